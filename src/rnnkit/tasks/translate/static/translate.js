// The translator's page section: one sentence per line to POST /translate, each shown with
// its translation. Text is only ever set as text (textContent), never as HTML.
(() => {
  "use strict";
  const form = document.getElementById("translate-form");
  const box = document.getElementById("sentences");
  const beam = document.getElementById("beam");
  const list = document.getElementById("translations");
  const errorLine = document.getElementById("error");
  const modelLine = document.getElementById("model");
  let asked = 0; // an answer to an older request is dropped

  function item(source, translation) {
    const li = document.createElement("li");
    const from = document.createElement("div");
    from.className = "from";
    from.textContent = source;
    const to = document.createElement("div");
    to.className = "to";
    to.textContent = translation;
    li.append(from, to);
    return li;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const lines = box.value.split("\n").filter((line) => line.trim());
    if (!lines.length) return;
    const mine = ++asked;
    errorLine.hidden = true;
    const response = await fetch("translate", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ inputs: lines, beam: Number(beam.value) || null }),
    });
    const body = await response.json().catch(() => ({}));
    if (mine !== asked) return;
    if (!response.ok) {
      const detail = body.detail;
      errorLine.textContent = typeof detail === "string" ? detail
        : Array.isArray(detail) && detail[0] ? detail[0].msg : "Bad input";
      errorLine.hidden = false;
      list.replaceChildren(); // no translations of an earlier request stay on show
      return;
    }
    list.replaceChildren(...lines.map((line, i) => item(line, body.translations[i])));
  });

  fetch("healthz").then((r) => r.json()).then((health) => {
    beam.value = health.beam;
    modelLine.textContent = `Model ${health.run} · ${health.model} · ${health.direction}`;
  }).catch(() => { modelLine.textContent = "Model unavailable"; });
})();
