"""Serving a language model: fast per-keystroke inference, the HTTP API, the web page, export."""
