// What every page section shares, loaded by the shell before the section's own script.
"use strict";

// The server's reason in a 4xx answer: a route's own message ({"detail": "..."}), or
// FastAPI's list of the fields a malformed request got wrong, joined; null when the answer
// says neither, so that the section gives its own.
function serverReason(body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg || String(d)).join("; ");
  return null;
}

// A drop zone and its file input: a file picked or dropped on the zone goes to onFile (the
// same file picked twice goes twice); the zone is marked "over" while a file hovers on it,
// and a file dropped beside it does not make the browser leave the page to open it.
function fileDrop(zone, picker, onFile) {
  const take = (file) => { if (file) onFile(file); };
  picker.addEventListener("change", () => {
    take(picker.files[0]);
    picker.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    take(event.dataTransfer.files[0]);
  });
  for (const type of ["dragover", "drop"]) {
    document.addEventListener(type, (event) => event.preventDefault());
  }
}
