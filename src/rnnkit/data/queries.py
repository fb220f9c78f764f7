"""What a query is, and files of them: the text rules of `rnnkit.data.store.QueryStore`.

A query is text someone typed into a search box: stored normalised (stripped, each run of
whitespace one space), at most `MAX_LENGTH` characters, with no control character (NUL, escape,
DEL, C1 controls) and no lone surrogate. Files of queries: plain text (one a line), CSV/TSV
(a column, default ``text``) or JSON lines (a field), with an optional ``count``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from rnnkit.data.tables import decode, lines, parse_table

__all__ = ["MAX_COUNT", "MAX_LENGTH", "check_query", "checked_count", "checked_text",
           "normalise", "read_queries"]  # fmt: skip

MAX_LENGTH = 1000  # characters in a normalised query; longer text is not something people type
MAX_COUNT = 10**9  # the most one row or call may add, far from SQLite's 64-bit limit
TABLES = (".csv", ".tsv", ".jsonl")
# Control characters (C0, DEL, C1) and lone surrogates: never typed into a search box. Tabs
# and line breaks are whitespace, made spaces by `normalise` before this is looked for.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def normalise(text: str) -> str:
    """``text`` stripped, with every run of whitespace (newlines and tabs too) one space."""
    return " ".join(text.split())


def checked_text(value: object, name: str) -> str:
    """``value`` normalised, when it is a query the store takes; else a ValueError that
    names ``name`` and says why (empty, too long, a control character)."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    text = normalise(value)
    if not text:
        raise ValueError(f"{name} is empty; give the text that was typed")
    return check_query(text, name)


def check_query(text: str, where: str) -> str:
    """``text``, a normalised query, when it is short enough and holds no control character."""
    if len(text) > MAX_LENGTH:
        raise ValueError(
            f"{where} is {len(text):,} characters long; a query may have at most "
            f"{MAX_LENGTH:,}: shorten or drop it"
        )
    if bad := CONTROL.search(text):
        raise ValueError(
            f"{where} holds the control character U+{ord(bad.group()):04X} at character "
            f"{bad.start() + 1:,}; remove it (queries are typed text)"
        )
    return text


def checked_count(value: object, where: str) -> int:
    """A positive int up to `MAX_COUNT`; digit strings (CSV cells) are read as ints."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise ValueError(f"{where} must be a positive int up to {MAX_COUNT:,}, got {value!r}")
    return value


# ---- reading files of queries -------------------------------------------------------------

Row = tuple[int, object, object]  # (line number, text, count)


def read_queries(path: Path, data: bytes, column: str | None = None) -> tuple[dict[str, int], int]:
    """({normalised query: count to add}, rows holding a query) for the bytes ``data`` of the
    file ``path``; its suffix picks the format (see `rnnkit.data.store.QueryStore.ingest`).
    Raises ValueError, naming the line, at the first row that is not a query."""
    text = decode(path, data)
    if path.suffix.lower() in TABLES:
        rows = _table_rows(path, text, column or "text")
    else:
        rows = ((n, line, 1) for n, line in lines(text))
    counts: dict[str, int] = {}
    read = 0
    for number, raw, count in rows:
        where = f"{path} line {number}"
        if raw is not None and not isinstance(raw, str):
            raise ValueError(f"{where} holds a {type(raw).__name__}, not text; quote the text")
        query = normalise(raw or "")
        if query:
            check_query(query, where)
            counts[query] = counts.get(query, 0) + checked_count(count, f"{where}: count")
            read += 1
    return counts, read


def _table_rows(path: Path, text: str, column: str) -> Iterator[Row]:
    """(line, text, count) of each row: a CSV/TSV row, or a JSON line holding ``column`` (the
    others are skipped). A ``count`` column or field gives the count, else 1."""
    table = parse_table(path, text)
    if table.columns or not table.jsonl:  # an empty JSON-lines file has nothing to check
        table.require(column)
    for row in table.rows:
        if not table.jsonl:
            count = row.get("count") if "count" in table.columns else 1
        elif column in row.record:
            count = row.record.get("count", 1)
        else:
            continue  # a JSON line without the field
        yield row.line, row.get(column), count
