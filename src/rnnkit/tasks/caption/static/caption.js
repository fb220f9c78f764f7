// The image captioner's page section. An image picked or dropped is sent as it is (its
// bytes as the body) to POST /caption with the beam size and attention=true; the answer
// shows the image (the user's own file, through an object URL), its caption in large text,
// and, when the run has attention, one small map per word and the end: the image with each
// grid cell dimmed by how little the word looked there. Hovering or focusing a word of the
// caption (or a map) picks out its map. A refusal shows the server's reason. Text only ever
// goes in as textContent, never as HTML.
(() => {
  "use strict";
  const MAP_SIDE = 112; // CSS pixels of a map's longer side
  const DIM = 0.8; // the opacity of the dark veil over a cell the word did not look at
  const byId = (id) => document.getElementById(id);
  const picker = byId("image-file");
  const drop = byId("image-drop");
  const beam = byId("beam");
  const status = byId("caption-status");
  const errorLine = byId("error");
  const result = byId("caption-result");
  const image = byId("caption-image");
  const text = byId("caption-text");
  const noWords = byId("no-words");
  const about = byId("caption-about");
  const hint = byId("attention-hint");
  const noAttention = byId("no-attention");
  const maps = byId("attention-maps");
  const modelLine = byId("model");
  let asked = 0; // the latest request: an older answer arriving late is dropped
  let shownUrl = null; // the object URL of the image on show, revoked when it is replaced
  let runBeam = null; // the run's own beam size (/healthz): what an empty beam box means

  function element(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function clearResult() {
    result.hidden = true;
    image.removeAttribute("src");
    if (shownUrl) URL.revokeObjectURL(shownUrl);
    shownUrl = null;
  }

  function fail(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
    clearResult(); // no caption of an earlier image stays on show
  }

  function reason(response, body) {
    const given = serverReason(body); // the route's own 422, or a malformed query's fields
    if (given !== null) return given;
    if (response.status === 413) { // the app's limit on a request's body
      return "The image is over the size the server takes; pick a smaller one";
    }
    return `The server refused the image (HTTP ${response.status})`;
  }

  async function decoded(url) {
    // The image as the browser reads it, to draw on the maps; null for a format the server
    // reads but the browser does not (the maps then show the weights alone).
    const picture = new Image();
    picture.src = url;
    try {
      await picture.decode();
      return picture;
    } catch {
      return null;
    }
  }

  function drawMap(canvas, picture, weights) {
    // The picture scaled to the canvas, then the (h, w) weights stretched over it as a dark
    // veil: each cell's opacity DIM * (1 - weight / the largest weight), drawn as an h x w
    // bitmap that the canvas scales up with smoothing, so the cells blend into each other.
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = "high";
    if (picture) {
      context.drawImage(picture, 0, 0, canvas.width, canvas.height);
    } else {
      context.fillStyle = "#9aa4ae";
      context.fillRect(0, 0, canvas.width, canvas.height);
    }
    const h = weights.length, w = weights[0].length;
    const flat = weights.flat();
    const peak = Math.max(...flat) || 1;
    const veil = document.createElement("canvas");
    veil.width = w;
    veil.height = h;
    const veilContext = veil.getContext("2d");
    const cells = veilContext.createImageData(w, h); // black, transparent to start with
    flat.forEach((weight, k) => {
      cells.data[4 * k + 3] = Math.round(255 * DIM * (1 - Math.max(0, weight) / peak));
    });
    veilContext.putImageData(cells, 0, 0);
    context.drawImage(veil, 0, 0, canvas.width, canvas.height);
  }

  function mapSize(picture) {
    // The CSS size of a map: the image's own shape (the grid is stretched over all of it,
    // as the model stretches the image to its size), its longer side MAP_SIDE.
    const width = picture ? picture.naturalWidth : 1;
    const height = picture ? picture.naturalHeight : 1;
    const scale = MAP_SIDE / Math.max(width, height);
    return [Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))];
  }

  function light(index) {
    // Picks out the map (and caption word) at index; null lights none.
    maps.classList.toggle("picking", index !== null);
    const mark = (node, i) => node.classList.toggle("lit", i === index);
    maps.querySelectorAll(".caption-map").forEach(mark);
    text.querySelectorAll(".caption-word").forEach(mark);
  }

  function pointsAt(node, index) {
    // Hover and focus on node light the map at index; leaving either lights none.
    node.addEventListener("mouseenter", () => light(index));
    node.addEventListener("focus", () => light(index));
    node.addEventListener("mouseleave", () => light(null));
    node.addEventListener("blur", () => light(null));
  }

  function showCaption(answer, withMaps) {
    // The caption as one span a word (focusable when it has a map), single spaces between.
    const words = answer.words ? answer.words.slice(0, -1) : [];
    if (!words.length || words.join(" ") !== answer.caption) {
      text.textContent = answer.caption;
      return;
    }
    text.replaceChildren();
    words.forEach((word, i) => {
      if (i > 0) text.append(" ");
      const span = element("span", "caption-word", word);
      if (withMaps) {
        span.tabIndex = 0;
        span.title = `Where the model looked for "${word}"`;
        pointsAt(span, i);
      }
      text.append(span);
    });
  }

  function showMaps(answer, picture) {
    // One figure a word and the end: a canvas (drawn at the screen's pixel density) and
    // the word under it.
    const [width, height] = mapSize(picture);
    const density = window.devicePixelRatio || 1;
    maps.replaceChildren(...answer.words.map((word, i) => {
      const end = i === answer.words.length - 1;
      const figure = element("figure", end ? "caption-map end" : "caption-map");
      const canvas = element("canvas");
      canvas.width = Math.round(width * density);
      canvas.height = Math.round(height * density);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
      canvas.dataset.word = word;
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", end ? "Where the model looked to end the caption"
        : `Where the model looked for "${word}"`);
      drawMap(canvas, picture, answer.attention[i]);
      figure.append(canvas, element("figcaption", "", end ? "(end)" : word));
      pointsAt(figure, i);
      return figure;
    }));
  }

  function show(answer, url, picture, what, size) {
    if (shownUrl && shownUrl !== url) URL.revokeObjectURL(shownUrl);
    shownUrl = url;
    image.src = url;
    const withMaps = Array.isArray(answer.attention) && Array.isArray(answer.words)
      && answer.attention.length === answer.words.length; // null: a run without attention
    showCaption(answer, withMaps);
    noWords.hidden = answer.caption !== "";
    const [h, w] = answer.image_size;
    about.textContent = `${what} · beam ${size || runBeam} · read at ${w}×${h}`
      + (withMaps ? ` · attention over a ${answer.grid[0]}×${answer.grid[1]} grid` : "");
    if (withMaps) showMaps(answer, picture);
    else maps.replaceChildren();
    hint.hidden = !withMaps;
    noAttention.hidden = withMaps;
    maps.classList.remove("picking");
    result.hidden = false;
  }

  async function send(file) {
    const mine = ++asked;
    const url = URL.createObjectURL(file); // the user's own file, shown as it is
    errorLine.hidden = true;
    status.textContent = "Captioning…";
    const query = new URLSearchParams({ attention: "true" });
    const size = beam.value.trim();
    if (size) query.set("beam", size); // the server checks it
    let response, body;
    try {
      response = await fetch(`caption?${query}`, {
        method: "POST",
        headers: { "content-type": file.type || "application/octet-stream" },
        body: file,
      });
      body = await response.json().catch(() => ({}));
    } catch {
      response = null;
    }
    const picture = response && response.ok ? await decoded(url) : null;
    if (mine !== asked) { // a later image was sent meanwhile: its answer is the one to show
      URL.revokeObjectURL(url);
      return;
    }
    status.textContent = "";
    if (!response || !response.ok) URL.revokeObjectURL(url);
    if (!response) fail("The server did not answer");
    else if (!response.ok) fail(reason(response, body));
    else show(body, url, picture, file.name || "the image", size);
  }

  fileDrop(drop, picker, send); // page.js: picked or dropped, the file is sent

  fetch("healthz").then((r) => r.json()).then((health) => {
    beam.value = runBeam = health.beam;
    const [h, w] = health.image_size;
    const colour = health.mode === "L" ? "grey" : "colour";
    const looks = health.attention === "soft"
      ? `soft attention over ${health.grid[0]}×${health.grid[1]}` : "no attention";
    modelLine.textContent =
      `Model ${health.run} · ${health.model} · images ${w}×${h} ${colour} · ${looks}`;
  }).catch(() => { modelLine.textContent = "Model unavailable"; });
})();
