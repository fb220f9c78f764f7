"""The one reader of text files and tables: UTF-8 text, CSV, TSV and JSON lines.

    table = read_table("reviews.csv")          # or .tsv (tab-separated), .jsonl (JSON lines)
    table.require("text", "label")             # ValueError listing the columns it has
    for row in table.rows:
        row.line, row.get("text")              # the line the row starts on; None if absent

Every file is read as UTF-8 (`read_text`): a byte-order mark is dropped, a file holding NUL
bytes is binary (or UTF-16) and an error naming it, and other bytes that are not UTF-8 are an
error naming the byte. CSV/TSV files have a header line; a cell may be quoted, and a quoted
cell may span lines, so a row is known by the line it starts on, as an editor numbers lines.
Blank lines are skipped. A JSON-lines file holds one object per non-blank line; its columns
are every key seen, in order of first appearance. Every problem is a one-line ValueError that
names the file, and the line where there is one.

No torch here: the query store imports this module.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "TABLE_SUFFIXES",
    "NoSuchFile",
    "NotText",
    "Row",
    "Table",
    "check_file",
    "decode",
    "lines",
    "no_column",
    "parse_table",
    "read_table",
    "read_text",
]

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")
DELIMITERS = {".csv": ",", ".tsv": "\t"}


class NoSuchFile(FileNotFoundError, ValueError):
    """A path that names no file: a FileNotFoundError, and a ValueError like every other
    problem a user can fix, so callers catching either one see it."""


class NotText(ValueError):
    """A file that is not UTF-8 text; ``reason`` says why in a few words ("binary",
    "not UTF-8"), for lists of skipped files."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_file(path: str | Path, suffixes: Iterable[str] | None = None, give: str = "") -> Path:
    """``path`` as a Path, when it is an existing file ending in one of ``suffixes`` (any
    ending when None). ``give`` says what to give instead, for the messages."""
    path = Path(path).expanduser()
    wanted = tuple(suffixes) if suffixes is not None else None
    if not path.exists():
        raise NoSuchFile(f"no such file: {path}; " + (f"give {give}" if give else "check the path"))
    if not path.is_file():
        kind = f"a {'/'.join(wanted)} file" if wanted else "a file"
        what = "a folder" if path.is_dir() else "not a regular file"
        raise ValueError(f"{path} is {what}; give {give or kind}")
    if wanted is not None and path.suffix.lower() not in wanted:
        raise ValueError(f"{path} must be a {'/'.join(wanted)} file (by its name's ending)")
    return path


def decode(path: str | Path, data: bytes) -> str:
    """The UTF-8 text of ``data``, the bytes of the file ``path``, without a byte-order mark."""
    if b"\0" in data:  # binary formats, and UTF-16/32 text, hold NUL bytes
        raise NotText(
            f"{path} is a binary file (it holds NUL bytes), not text; give a UTF-8 text file",
            "binary",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise NotText(
            f"{path} is not UTF-8 text (byte {e.start:,}); save it as UTF-8", "not UTF-8"
        ) from e


def read_text(path: str | Path) -> str:
    """The UTF-8 text of the file ``path`` (see `decode`); line endings are kept."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as e:
        raise NoSuchFile(f"no such file: {path}; check the path") from e
    except OSError as e:
        raise NotText(f"cannot read {path} ({e.strerror})", f"unreadable: {e.strerror}") from e
    return decode(path, data)


def lines(text: str) -> Iterator[tuple[int, str]]:
    """(number, line) from 1; a line ends at \\n, \\r\\n or \\r only: str.splitlines would
    also cut at U+2028, which a JSON string may hold as it is."""
    return enumerate(io.StringIO(text, newline=None), start=1)


def _shown(name: str) -> str:
    """A column name in a list: as it is, or quoted when it has spaces or commas at the edges."""
    plain = bool(name) and name == name.strip() and "," not in name and "'" not in name
    return name if plain else repr(name)


def no_column(where: object, column: str, columns: Iterable[str], what: str = "") -> ValueError:
    """The error for a ``column`` that ``where`` (a file, a table) lacks, listing its columns."""
    listed = ", ".join(_shown(c) for c in columns) or "(none)"
    return ValueError(f"{where} has no {what}column {column!r}; its columns are: {listed}")


@dataclass(frozen=True)
class Row:
    """One row of a table: ``line`` is the line it starts on (a quoted CSV cell may span
    lines); ``record`` maps column names to cells (CSV cells are strings, and a short row
    lacks its last columns; JSON values stay as decoded); ``fields`` are a CSV/TSV row's
    cells in order, those past the header too (empty for JSON lines)."""

    line: int
    record: dict[str, object]
    fields: tuple[str, ...] = ()

    def get(self, column: str) -> object:
        """The cell of ``column``, or None when the row has none."""
        return self.record.get(column)


@dataclass(frozen=True)
class Table:
    """The rows of a table file, its ``columns`` (the header, or every JSON key) and,
    for CSV/TSV, the line of the header (``header_line``; 0 for JSON lines)."""

    path: Path
    columns: list[str]
    rows: list[Row]
    header_line: int = 0

    @property
    def jsonl(self) -> bool:
        """Whether this is a JSON-lines table (rows are objects, not every one has every key)."""
        return self.path.suffix.lower() == ".jsonl"

    def require(self, *columns: str) -> None:
        """Raise, listing the columns there are, when one of ``columns`` is not one of them."""
        for column in columns:
            if column not in self.columns:
                raise no_column(self.path, column, self.columns)

    def require_rows(self, unit: str = "row") -> None:
        """Raise when the table has no rows; ``unit`` names what a row holds."""
        if not self.rows:
            raise ValueError(f"{self.path} has no rows; it needs a header and one row per {unit}")


def read_table(path: str | Path, suffixes: Iterable[str] = TABLE_SUFFIXES) -> Table:
    """The table in the file ``path``: ``.csv``, ``.tsv`` or ``.jsonl`` by its name's ending,
    one of ``suffixes``. An empty file is a table without columns or rows."""
    path = check_file(path, suffixes)
    return parse_table(path, read_text(path))


def parse_table(path: Path, text: str) -> Table:
    """The table ``text``, read from the file ``path`` (its name's ending says the format)."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        keys: dict[str, None] = {}
        rows = []
        for number, record in objects(path, text):
            keys.update(dict.fromkeys(record))
            rows.append(Row(number, record))
        return Table(path, list(keys), rows)
    if suffix not in DELIMITERS:
        raise ValueError(f"{path} must be a .csv/.tsv/.jsonl file (by its name's ending)")
    found = csv_rows(path, text, DELIMITERS[suffix])
    if not found:
        return Table(path, [], [])
    (header_line, header), body = found[0], found[1:]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ValueError(
            f"{path} line {header_line}: the header names the column {repeated[0]!r} twice; "
            "give every column its own name"
        )
    rows = [Row(line, dict(zip(header, fields, strict=False)), fields) for line, fields in body]
    return Table(path, list(header), rows, header_line)


def csv_rows(path: Path, text: str, delimiter: str) -> list[tuple[int, tuple[str, ...]]]:
    """(first line number, fields) of each non-blank CSV/TSV row of ``text``, the header
    included. A quote that is never closed, and so runs to the end of the file, is an error
    naming the line it opens on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, start = [], 1
    try:
        for fields in reader:
            if fields:  # a blank line is an empty list
                rows.append((start, tuple(fields)))
            start = reader.line_num + 1  # a quoted field may span lines
    except csv.Error as e:  # a field past csv.field_size_limit(): most often a lost quote
        hint = " (most often a quote that is never closed)" if "field limit" in str(e) else ""
        raise ValueError(f"{path} line {start}: {e}{hint}; fix that line") from e
    if rows and _open_quote(text, rows[-1][0], delimiter):
        raise ValueError(
            f"{path} line {rows[-1][0]}: a quoted cell opened on this line is never closed; "
            'add the closing quote ("), and write a quote inside a quoted cell as ""'
        )
    return rows


def _open_quote(text: str, line: int, delimiter: str) -> bool:
    """Whether the last row, from ``line`` to the end of ``text``, ends inside quotes.

    Python's lenient CSV reader ends such a row silently at the end of the file; its strict
    reader reports it, but also refuses text after a closing quote that the lenient one
    keeps, so only the last row is read again, strictly, and only for this one error."""
    rest = "".join(text for _, text in list(lines(text))[line - 1 :])
    try:
        for _ in csv.reader(io.StringIO(rest, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as e:
        return "unexpected end of data" in str(e)
    return False


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
