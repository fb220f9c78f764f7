// The speech recognizer's page section. Audio reaches POST /transcribe two ways: recorded
// from the microphone (getUserMedia; the Web Audio API collects the samples, which are
// resampled to 16 kHz and encoded here as a 16-bit mono WAV), or an audio file picked or
// dropped, sent as it is. The answer shows the transcript, the greedy one where it differs
// and the clip's length; a refusal shows the server's reason. Beam and language model are
// sent with each clip. Text only ever goes in as textContent, never as HTML.
(() => {
  "use strict";
  const RATE = 16000; // what the recognizer hears; the server would resample anything else
  const byId = (id) => document.getElementById(id);
  const recordButton = byId("record");
  const status = byId("speech-status");
  const picker = byId("audio-file");
  const drop = byId("audio-drop");
  const beam = byId("beam");
  const useLm = byId("lm");
  const errorLine = byId("error");
  const result = byId("speech-result");
  const transcript = byId("transcript");
  const noSpeech = byId("no-speech");
  const greedyLine = byId("greedy-line");
  const greedy = byId("greedy");
  const clipLength = byId("clip-length");
  const modelLine = byId("model");
  let maxSeconds = 20; // the run's data.max_seconds, from /healthz: a recording stops there
  let asked = 0; // the latest request: an older answer arriving late is dropped
  let recording = null; // {stream, context, chunks, timer, started} while the microphone is on

  function fail(message) {
    errorLine.textContent = message;
    errorLine.hidden = false;
    result.hidden = true; // no transcript of an earlier clip stays on show
  }

  function reason(response, body) {
    const given = serverReason(body); // the route's own 422, or a malformed query's fields
    if (given !== null) return given;
    if (response.status === 413) { // the app's limit on a request's body, not the route's
      return "The clip is over the size the server takes; record or pick a shorter one";
    }
    return `The server refused the audio (HTTP ${response.status})`;
  }

  function show(answer, what) {
    transcript.textContent = answer.text;
    noSpeech.hidden = answer.text !== "";
    greedy.textContent = answer.greedy;
    greedyLine.hidden = answer.greedy === answer.text;
    clipLength.dataset.seconds = String(answer.seconds);
    clipLength.textContent = `${answer.seconds.toFixed(2)} s of audio · ${what}`;
    result.hidden = false;
  }

  async function send(audio, type, what) {
    const mine = ++asked;
    errorLine.hidden = true;
    status.textContent = "Transcribing…";
    const query = new URLSearchParams({ lm: String(useLm.checked) });
    if (beam.value.trim()) query.set("beam", beam.value.trim()); // the server checks it
    let response, body;
    try {
      response = await fetch(`transcribe?${query}`, {
        method: "POST",
        headers: { "content-type": type || "application/octet-stream" },
        body: audio,
      });
      body = await response.json().catch(() => ({}));
    } catch {
      response = null;
    }
    if (mine !== asked) return;
    status.textContent = "";
    if (!response) fail("The server did not answer");
    else if (!response.ok) fail(reason(response, body));
    else show(body, what);
  }

  function sendFile(file) {
    send(file, file.type, file.name); // its bytes as they are
  }

  // Recording. A worklet (from a Blob: no other file to serve) posts each block of samples
  // of the first channel; where AudioWorklet is missing a ScriptProcessorNode does it.
  const WORKLET = `registerProcessor("rnnkit-capture", class extends AudioWorkletProcessor {
    process(inputs) {
      const channel = inputs[0] && inputs[0][0];
      if (channel) this.port.postMessage(channel.slice(0));
      return true;
    }
  });`;

  async function captureNode(context, keep) {
    if (context.audioWorklet && typeof AudioWorkletNode === "function") {
      const url = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
      try {
        await context.audioWorklet.addModule(url);
        const node = new AudioWorkletNode(context, "rnnkit-capture");
        node.port.onmessage = (event) => keep(event.data);
        return node;
      } catch {
        // fall through to the ScriptProcessorNode
      } finally {
        URL.revokeObjectURL(url);
      }
    }
    const node = context.createScriptProcessor(4096, 1, 1);
    node.onaudioprocess = (event) => keep(new Float32Array(event.inputBuffer.getChannelData(0)));
    return node;
  }

  function resample(samples, rate) {
    // Windowed-sinc low-pass at the new Nyquist frequency, evaluated at each output instant:
    // any ratio (48 or 44.1 kHz to 16 kHz) without aliasing the band above 8 kHz.
    if (rate <= RATE) return samples;
    const ratio = rate / RATE;
    const half = Math.ceil(8 * ratio); // taps on each side
    const out = new Float32Array(Math.floor(samples.length / ratio));
    for (let i = 0; i < out.length; i++) {
      const centre = i * ratio;
      let sum = 0, weights = 0;
      for (let j = Math.max(0, Math.ceil(centre - half));
        j <= Math.min(samples.length - 1, Math.floor(centre + half)); j++) {
        const t = (j - centre) / ratio; // in output samples
        const w = (t === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t))
          * (0.5 + 0.5 * Math.cos((Math.PI * (j - centre)) / half));
        sum += w * samples[j];
        weights += w;
      }
      out[i] = weights ? sum / weights : 0;
    }
    return out;
  }

  function wav(samples, rate) {
    // A RIFF WAVE file: 16-bit little-endian PCM, one channel.
    const data = new DataView(new ArrayBuffer(44 + 2 * samples.length));
    const ascii = (at, text) => [...text].forEach((c, i) => data.setUint8(at + i, c.charCodeAt(0)));
    ascii(0, "RIFF");
    data.setUint32(4, 36 + 2 * samples.length, true);
    ascii(8, "WAVE");
    ascii(12, "fmt ");
    data.setUint32(16, 16, true); // the format chunk's size
    data.setUint16(20, 1, true); // PCM
    data.setUint16(22, 1, true); // one channel
    data.setUint32(24, rate, true);
    data.setUint32(28, 2 * rate, true); // bytes a second
    data.setUint16(32, 2, true); // bytes a frame
    data.setUint16(34, 16, true); // bits a sample
    ascii(36, "data");
    data.setUint32(40, 2 * samples.length, true);
    samples.forEach((s, i) => {
      data.setInt16(44 + 2 * i, Math.round(Math.max(-1, Math.min(1, s)) * 32767), true);
    });
    return new Blob([data.buffer], { type: "audio/wav" });
  }

  function setRecording(on) {
    recordButton.textContent = on ? "Stop" : "Record";
    recordButton.setAttribute("aria-pressed", String(on));
    recordButton.disabled = false;
  }

  async function start() {
    errorLine.hidden = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      fail("The browser lends the microphone to https pages and localhost only; pick a file");
      return;
    }
    recordButton.disabled = true;
    const context = new AudioContext(); // made in the click, so it may start at once
    let stream = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      const node = await captureNode(context, (samples) => chunks.push(samples));
      const mute = context.createGain(); // the graph must reach the speakers to run: silently
      mute.gain.value = 0;
      context.createMediaStreamSource(stream).connect(node);
      node.connect(mute).connect(context.destination);
      await context.resume();
      const started = performance.now();
      const timer = setInterval(() => {
        const seconds = (performance.now() - started) / 1000;
        status.textContent = `Recording… ${seconds.toFixed(1)} s`;
        if (seconds >= maxSeconds) stop();
      }, 100);
      recording = { stream, context, chunks, timer };
      status.textContent = "Recording…";
      setRecording(true);
    } catch (error) {
      if (stream) stream.getTracks().forEach((track) => track.stop());
      context.close();
      setRecording(false);
      status.textContent = "";
      fail(`No recording: ${error.name === "NotAllowedError"
        ? "the microphone was not allowed" : error.message || error.name}`);
    }
  }

  async function stop() {
    if (!recording) return;
    const { stream, context, chunks, timer } = recording;
    recording = null;
    clearInterval(timer);
    stream.getTracks().forEach((track) => track.stop());
    const rate = context.sampleRate;
    await context.close();
    setRecording(false);
    const samples = new Float32Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
    chunks.reduce((at, chunk) => (samples.set(chunk, at), at + chunk.length), 0);
    if (!samples.length) {
      status.textContent = "";
      fail("Nothing was recorded");
      return;
    }
    send(wav(resample(samples, rate), Math.min(rate, RATE)), "audio/wav", "recorded");
  }

  recordButton.addEventListener("click", () => (recording ? stop() : start()));

  fileDrop(drop, picker, sendFile); // page.js: picked or dropped, the file is sent

  fetch("healthz").then((r) => r.json()).then((health) => {
    beam.value = health.beam;
    maxSeconds = health.max_seconds;
    byId("lm-label").textContent = `Language model (${health.language_model_words} words)`;
    modelLine.textContent =
      `Model ${health.run} · ${health.model} · clips up to ${health.max_seconds} s`;
  }).catch(() => { modelLine.textContent = "Model unavailable"; });
})();
