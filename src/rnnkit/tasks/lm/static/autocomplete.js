// The autocomplete page: a combobox over GET complete, POST feedback and GET healthz.
// Vanilla JS, no build step. Only the latest request's answer is ever shown: each keystroke
// aborts the request in flight, and an answer that arrives for an older query is dropped
// (and counted in the list's data-dropped, which the end-to-end test waits on). Feedback is
// sent only when GET healthz says the server takes it (rnnkit serve --feedback).
"use strict";

(() => {
  const DEBOUNCE_MS = 60;
  const WORDS = 5;

  const box = document.getElementById("query");
  const list = document.getElementById("suggestions");
  const errorLine = document.getElementById("error");
  const modelLine = document.getElementById("model");
  const timing = document.getElementById("timing");

  let timer = 0; // the debounce timer
  let controller = null; // aborts the /complete request in flight
  let latest = 0; // the number of the latest request; answers to older ones are dropped
  let options = []; // the <li role="option"> shown, words first, then phrases
  let active = -1; // the index of the highlighted option, -1 for none
  let feedbackOn = false; // whether the server records accepted suggestions
  let dropped = 0; // answers that came for an older query and were not shown

  // --- talking to the server ---------------------------------------------------------------

  async function readJson(response) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  // The message of a 4xx/5xx answer: FastAPI's {"detail": "..."} or its validation list.
  function problem(response, body) {
    return serverReason(body) ?? `${response.status} ${response.statusText}`.trim();
  }

  function showError(message) {
    errorLine.textContent = message || "";
    errorLine.hidden = !message;
  }

  // Forget the pending keystroke and the request in flight; answers still on the way are dropped.
  function cancel() {
    clearTimeout(timer);
    if (controller) controller.abort();
    controller = null;
    return ++latest;
  }

  async function suggest() {
    const mine = cancel();
    const query = box.value;
    if (!query.trim()) {
      options = [];
      list.replaceChildren();
      showList(false);
      showError("");
      return;
    }
    controller = new AbortController();
    const params = new URLSearchParams({ q: query, k: String(WORDS) });
    try {
      const response = await fetch(`complete?${params}`, { signal: controller.signal });
      const body = await readJson(response);
      if (mine !== latest) {
        dropped += 1;
        list.dataset.dropped = String(dropped);
        return;
      }
      if (!response.ok) throw new Error(problem(response, body));
      showError("");
      render(query, body);
      timing.textContent = typeof body.ms === "number" ? `· answered in ${body.ms} ms` : "";
    } catch (err) {
      if (err.name === "AbortError" || mine !== latest) return;
      showList(false);
      showError(err.message);
    }
  }

  async function sendFeedback(query, completion) {
    if (!feedbackOn) return;
    try {
      const response = await fetch("feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ query, completion }),
      });
      if (!response.ok) showError(`feedback not recorded: ${problem(response, await readJson(response))}`);
    } catch (err) {
      showError(`feedback not recorded: ${err.message}`);
    }
  }

  async function describeModel() {
    try {
      const response = await fetch("healthz");
      const health = (await readJson(response)) || {};
      if (!response.ok) throw new Error(problem(response, health));
      feedbackOn = Boolean(health.feedback);
      const parts = [];
      if (health.run) parts.push(`Model ${health.run}`);
      if (health.model) parts.push(health.model);
      if (typeof health.vocab_size === "number") {
        parts.push(`vocabulary ${health.vocab_size.toLocaleString("en")}`);
      }
      if (health.int8) parts.push("int8");
      modelLine.textContent = parts.length ? parts.join(" · ") : "Model loaded";
    } catch (err) {
      modelLine.textContent = `Model unavailable: ${err.message}`;
    }
  }

  // --- the list ----------------------------------------------------------------------------

  // How much of ``text`` is what was typed (case-insensitively: "eat in La" -> "eat in las").
  function typedLength(query, text) {
    let n = 0;
    while (n < query.length && n < text.length && query[n].toLowerCase() === text[n].toLowerCase()) {
      n += 1;
    }
    return n;
  }

  function percent(p) {
    if (typeof p !== "number") return "";
    if (p < 0.001) return "<0.1%";
    return p < 0.1 ? `${(p * 100).toFixed(1)}%` : `${Math.round(p * 100)}%`;
  }

  function option(query, text, probability, kind) {
    const li = document.createElement("li");
    const index = options.length;
    li.id = `suggestion-${index}`;
    li.className = `option ${kind}`;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", "false");
    li.dataset.text = text;
    const n = typedLength(query, text);
    const label = document.createElement("span");
    label.className = "label";
    const typed = document.createElement("span");
    typed.textContent = text.slice(0, n);
    const added = document.createElement("b");
    added.textContent = text.slice(n);
    label.append(typed, added);
    const chance = document.createElement("span");
    chance.className = "probability";
    chance.textContent = percent(probability);
    li.append(label, chance);
    li.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus
    li.addEventListener("mousemove", () => highlight(index));
    li.addEventListener("click", () => accept(index));
    return li;
  }

  function render(query, body) {
    options = [];
    const words = body.words || [];
    const seen = new Set(words.map((w) => w.text));
    for (const w of words) options.push(option(query, w.text, w.probability, "word"));
    for (const p of body.phrases || []) {
      if (!seen.has(p.text)) options.push(option(query, p.text, p.probability, "phrase"));
      seen.add(p.text);
    }
    list.replaceChildren(...options);
    list.dataset.query = query; // which query the list answers (the end-to-end test waits on it)
    showList(options.length > 0);
  }

  function showList(open) {
    list.hidden = !open;
    box.setAttribute("aria-expanded", String(open));
    highlight(-1);
  }

  function highlight(index) {
    if (active >= 0 && options[active]) options[active].setAttribute("aria-selected", "false");
    active = index;
    if (index < 0) {
      box.removeAttribute("aria-activedescendant");
      return;
    }
    options[index].setAttribute("aria-selected", "true");
    box.setAttribute("aria-activedescendant", options[index].id);
    options[index].scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    if (list.hidden) showList(true);
    const n = options.length;
    highlight(active < 0 ? (step > 0 ? 0 : n - 1) : (active + step + n) % n);
  }

  // Accepting: the box takes the suggestion and a space, the server hears which one was
  // picked, and the suggestions for the new text follow at once.
  function accept(index) {
    const query = box.value;
    const text = options[index].dataset.text;
    box.value = `${text} `;
    box.setSelectionRange(box.value.length, box.value.length);
    box.focus();
    showList(false);
    sendFeedback(query, text);
    suggest();
  }

  // --- events ------------------------------------------------------------------------------

  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, DEBOUNCE_MS);
  });

  box.addEventListener("keydown", (event) => {
    if (event.isComposing) return;
    const open = !list.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) return;
      event.preventDefault(); // keep the caret where it is
      move(event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      accept(active);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      cancel(); // a keystroke still pending must not reopen the list
      showList(false);
    }
  });

  box.addEventListener("blur", () => showList(false));

  describeModel();
  if (box.value.trim()) suggest(); // the browser may restore the text on going back
})();
