// The classifier's page section: one input per line to POST /classify, each answer listed
// with its label and class probabilities as bars. When the run can explain (GET /healthz
// says "explain": an attention-pooled text run) it asks with "explain": true and shows each
// text as the tokens the network read, each a <mark class="token"> whose background grows
// with its weight (data-weight: the weight; title: its share). Text only ever goes in as
// textContent, never as HTML.
(() => {
  "use strict";
  const form = document.getElementById("classify-form");
  const box = document.getElementById("inputs");
  const list = document.getElementById("results");
  const errorLine = document.getElementById("error");
  const hint = document.getElementById("explained");
  const modelLine = document.getElementById("model");
  const run = { inputSize: null, explain: false, joiner: " " }; // set from /healthz
  let asked = 0; // the latest request: an older answer arriving late is dropped

  function parse(line) {
    // Numeric runs read one sequence per line: numbers, `input size` per step.
    if (!run.inputSize) return line;
    const values = line.split(/[\s,]+/).filter(Boolean).map(Number);
    const steps = [];
    for (let i = 0; i < values.length; i += run.inputSize) {
      steps.push(values.slice(i, i + run.inputSize));
    }
    return steps;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const percent = (p) => `${(100 * p).toFixed(1)}%`;

  function verdict(result) {
    const line = element("div", "verdict");
    line.append(element("span", "predicted", result.label));
    for (const [label, p] of Object.entries(result.probabilities)) {
      const bar = element("span", "bar");
      const fill = element("span");
      fill.style.width = percent(p);
      bar.append(fill);
      const probability = element("span", "probability");
      probability.title = `${label}: ${percent(p)}`;
      probability.append(element("span", "name", label), bar, element("span", "value", percent(p)));
      line.append(probability);
    }
    return line;
  }

  function said(result, line) {
    // The text, or with weights its tokens marked: a token with an even share of the
    // attention (1 / tokens) at a third of the colour, one with three times that or more at
    // full colour, so an even spread reads as pale and a peak stands out.
    const text = element("p", "said");
    if (!result.weights) {
      text.textContent = line.length > 200 ? `${line.slice(0, 200)}…` : line;
      return text;
    }
    const even = 1 / result.weights.length;
    result.weights.forEach(([token, weight], i) => {
      if (i > 0 && run.joiner) text.append(run.joiner);
      const mark = element("mark", "token", token);
      mark.dataset.weight = String(weight);
      mark.title = `${token.trim() || "(space)"}: ${percent(weight)} of the attention`;
      mark.style.setProperty("--strength", Math.min(1, weight / even / 3).toFixed(3));
      text.append(mark);
    });
    if (result.unread) {
      text.append(" ", element("span", "unread", `… ${result.unread} more not read`));
    }
    return text;
  }

  function show(results, lines) {
    list.replaceChildren(...results.map((result, i) => {
      const item = element("li", "result");
      item.append(verdict(result), said(result, lines[i]));
      return item;
    }));
  }

  function fail(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
  }

  function reason(body) {
    // A route's own 422 says why in a string; a malformed request lists the fields' errors.
    return serverReason(body) ?? "The server refused the input";
  }

  const ready = fetch("healthz").then((r) => r.json()).then((health) => {
    run.inputSize = health.input_size;
    run.explain = health.explain === true;
    run.joiner = health.level === "word" ? " " : ""; // char and bpe pieces carry their spaces
    hint.hidden = !run.explain;
    modelLine.textContent = `Model ${health.run} · ${health.model} · ${health.classes.join(", ")}`;
  }).catch(() => { modelLine.textContent = "Model unavailable"; });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const lines = box.value.split("\n").filter((line) => line.trim());
    if (!lines.length) return;
    const mine = ++asked;
    errorLine.hidden = true;
    await ready;
    let response, body;
    try {
      response = await fetch("classify", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs: lines.map(parse), top: 3, explain: run.explain }),
      });
      body = await response.json().catch(() => ({}));
    } catch {
      if (mine === asked) fail("The server did not answer");
      return;
    }
    if (mine !== asked) return;
    if (!response.ok) {
      list.replaceChildren();
      fail(reason(body));
      return;
    }
    show(body.results, lines);
  });
})();
