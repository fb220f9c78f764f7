"""Reading JSON-lines text: one JSON object per line (no torch: the store imports it)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path


def lines(text: str) -> Iterator[tuple[int, str]]:
    """(number, line) from 1; a line ends at \\n, \\r\\n or \\r only: str.splitlines would
    also cut at U+2028, which a JSON string may hold as it is."""
    return enumerate(io.StringIO(text, newline=None), start=1)


def objects(path: str | Path, text: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line of ``text``, read from ``path`` (named in
    the errors): a line that is not valid JSON, or not an object, is a one-line ValueError."""
    for number, line in lines(text):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} line {number} is not valid JSON ({e.msg}); fix it") from e
        if not isinstance(record, dict):
            kind = type(record).__name__
            raise ValueError(f"{path} line {number} is a JSON {kind}, not an object")
        yield number, record
