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
