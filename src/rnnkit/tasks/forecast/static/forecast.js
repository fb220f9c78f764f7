// The forecaster's page section: GET /forecast?horizon=N[&series=ID], shown as a table.
(() => {
  "use strict";
  const form = document.getElementById("forecast-form");
  const horizon = document.getElementById("horizon");
  const series = document.getElementById("series");
  const table = document.getElementById("table");
  const errorLine = document.getElementById("error");
  const modelLine = document.getElementById("model");

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorLine.hidden = true;
    const query = new URLSearchParams({ horizon: horizon.value });
    if (!series.hidden) query.set("series", series.value);
    const response = await fetch(`forecast?${query}`);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      errorLine.textContent = typeof body.detail === "string" ? body.detail : "Bad input";
      errorLine.hidden = false;
      return;
    }
    table.tBodies[0].replaceChildren(...body.forecast.map((row) => {
      const tr = document.createElement("tr");
      const band = row.lower === null ? "" : `${row.lower.toPrecision(5)} … ${row.upper.toPrecision(5)}`;
      tr.append(cell(row.date), cell(row.value.toPrecision(6)), cell(band));
      return tr;
    }));
    table.hidden = false;
  });

  fetch("healthz").then((r) => r.json()).then((health) => {
    horizon.max = health.horizon;
    horizon.value = health.horizon;
    if (health.series) {  // a panel run: one network, many series
      series.replaceChildren(...health.series.map((name) => new Option(name, name)));
      series.hidden = false;
      series.labels[0].hidden = false;
    }
    modelLine.textContent = `Model ${health.run} · ${health.model} · ${health.freq}`;
  }).catch(() => { modelLine.textContent = "Model unavailable"; });
})();
