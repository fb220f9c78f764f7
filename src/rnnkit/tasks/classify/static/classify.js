// The classifier's page section: one input per line to POST /classify, the labels listed.
(() => {
  "use strict";
  const form = document.getElementById("classify-form");
  const box = document.getElementById("inputs");
  const list = document.getElementById("results");
  const errorLine = document.getElementById("error");
  const modelLine = document.getElementById("model");
  let inputSize = null; // numeric runs: numbers per step

  function parse(line) {
    // Numeric runs read one sequence per line: numbers, `input size` per step.
    if (!inputSize) return line;
    const values = line.split(/[\s,]+/).filter(Boolean).map(Number);
    const steps = [];
    for (let i = 0; i < values.length; i += inputSize) steps.push(values.slice(i, i + inputSize));
    return steps;
  }

  function show(results, lines) {
    list.replaceChildren(...results.map((result, i) => {
      const item = document.createElement("li");
      const probs = Object.entries(result.probabilities)
        .map(([label, p]) => `${label} ${(100 * p).toFixed(1)}%`).join("  ");
      item.textContent = `${result.label} — ${probs} ← ${lines[i].slice(0, 80)}`;
      return item;
    }));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const lines = box.value.split("\n").filter((line) => line.trim());
    if (!lines.length) return;
    errorLine.hidden = true;
    const response = await fetch("classify", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inputs: lines.map(parse), top: 3 }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      errorLine.textContent = typeof body.detail === "string" ? body.detail : "Bad input";
      errorLine.hidden = false;
      return;
    }
    show(body.results, lines);
  });

  fetch("healthz").then((r) => r.json()).then((health) => {
    inputSize = health.input_size;
    modelLine.textContent = `Model ${health.run} · ${health.model} · ${health.classes.join(", ")}`;
  }).catch(() => { modelLine.textContent = "Model unavailable"; });
})();
