"""Text sources: where the documents a language model reads come from.

`load_documents(source)` turns one string into a list of `Document` (a name saying where the
text came from, and the text). ``source`` is tried as these forms, in this order:

1. ``"stdlib"`` (the default; no download, same text on every machine with the same Python):
   the docstrings of the running interpreter's standard library, one document per module,
   class, function or async function docstring (see `rnnkit.data.corpora`), cached as
   JSON in the cache folder after the first extraction.
2. A named public corpus, ``"tiny-shakespeare"`` or ``"wikitext-2"`` (raw): downloaded once
   into the cache folder, then read offline (`rnnkit.data.corpora`).
3. SQLite: ``"sqlite:///relative/path.db"`` or ``"sqlite:////absolute/path.db"`` (SQLAlchemy's
   spelling), or an existing ``.db``/``.sqlite``/``.sqlite3`` file: one document per row of
   ``table`` (default ``"queries"``), from ``column`` (default ``"text"``), in rowid order,
   through a read-only connection (loading never creates or changes a database). When the
   table has an integer column ``count`` (as `rnnkit.data.store.QueryStore` writes it), each
   document carries that count: how many times the text was typed.
4. An existing ``.csv``, ``.tsv`` (tab-separated) or ``.jsonl`` (one JSON object per line)
   file: one document per row, from ``column`` (default ``"text"``).
5. An existing text file (one document), or a folder: one document per file under it,
   recursively, sorted by path; hidden files and folders (``.git``) are tool metadata and
   are skipped.
6. A glob such as ``"notes/*.md"`` or ``"docs/**/*.txt"``: one document per matching file.

Files must be UTF-8 text (a byte-order mark is dropped, line endings become ``\\n``): binary
files (a NUL byte) and other encodings are skipped with a warning naming them. Documents that
are empty or whitespace are dropped; a source with none left is an error.

`split_documents` is the fixed train / validation / test split of the language model task.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import sqlite3
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rnnkit.data.corpora import CORPORA, corpus_texts, default_cache_dir, stdlib_texts
from rnnkit.data.store import sqlite_path

__all__ = ["Document", "default_cache_dir", "load_documents", "split_documents"]

FORMS = (
    "'stdlib', a named corpus (" + ", ".join(CORPORA) + "), an existing text file or folder, "
    "a glob like 'notes/*.md', a .csv/.tsv/.jsonl file, or sqlite:///file.db"
)
TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".jsonl"})
SQLITE_SUFFIXES = frozenset({".db", ".sqlite", ".sqlite3"})
T = TypeVar("T")


@dataclass(frozen=True)
class Document:
    """A unit of text that is never cut across train, validation and test.

    ``name`` says where it came from: ``"notes/a.txt"``, ``"data.csv:row 12"``,
    ``"stdlib:json/decoder.py:JSONDecoder.decode"``. ``count`` (default 1) is how many times
    the text occurs, e.g. how often a query was typed (a SQLite ``count`` column).
    """

    name: str
    text: str
    count: int = 1


def load_documents(
    source: str = "stdlib",
    *,
    column: str | None = None,
    table: str | None = None,
    cache_dir: str | Path | None = None,
    offline: bool = False,
) -> list[Document]:
    """The non-empty documents of ``source`` (see the module docstring for its forms).

    ``column`` picks the text column of a CSV/TSV/JSONL/SQLite source (default ``"text"``),
    ``table`` the SQLite table (default ``"queries"``). ``cache_dir`` holds downloads and the
    stdlib extraction (default `default_cache_dir`). ``offline=True`` makes a named corpus
    that is not cached yet an error instead of a download. Raises ValueError with a one-line
    message for anything the user can fix.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = Path(source).expanduser()
    suffix = path.suffix.lower()
    if source == "stdlib":
        kind, documents = "stdlib", [Document(*pair) for pair in stdlib_texts(cache)]
    elif source in CORPORA:
        texts = corpus_texts(source, cache, offline=offline)
        kind, documents = "corpus", [Document(*pair) for pair in texts]
    elif source.startswith("sqlite:") or (path.is_file() and suffix in SQLITE_SUFFIXES):
        db = sqlite_path(source)
        kind, documents = "sqlite", _from_sqlite(db, table or "queries", column or "text")
    elif path.is_file() and suffix in TABLE_SUFFIXES:
        read = _from_jsonl if suffix == ".jsonl" else _from_csv
        kind, documents = "table", read(path, column or "text")
    else:
        kind, documents = "files", _from_files(source, _files(source, path))
    _warn_unused(kind, column, table)
    documents = [d for d in documents if d.text.strip()]
    if not documents:
        raise ValueError(f"{source} has no text")
    return documents


def split_documents(documents: Sequence[T], every: int = 20) -> tuple[list[T], list[T], list[T]]:
    """(train, validation, test): document i is test when i % every == every - 1, validation
    when i % every == every - 2, else train (90/5/5 with the default 20).

    Every part samples the whole corpus, in corpus order, and no document is cut in two.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 3:
        raise ValueError(f"every must be an int of at least 3, got {every!r}")
    train: list[T] = []
    val: list[T] = []
    test: list[T] = []
    for i, document in enumerate(documents):
        part = test if i % every == every - 1 else val if i % every == every - 2 else train
        part.append(document)
    return train, val, test


def _warn_unused(kind: str, column: str | None, table: str | None) -> None:
    if table is not None and kind != "sqlite":
        warnings.warn(f"table={table!r} only applies to SQLite sources; ignored", stacklevel=3)
    if column is not None and kind not in ("sqlite", "table"):
        warnings.warn(
            f"column={column!r} only applies to CSV/TSV/JSONL/SQLite sources; ignored",
            stacklevel=3,
        )


def _listed(items: list[str], limit: int = 10) -> str:
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


# ---- files, folders and globs -------------------------------------------------------------


def _files(source: str, path: Path) -> list[Path]:
    """The files ``source`` names, sorted; ValueError when it names none."""
    if path.is_file():
        return [path]
    if path.is_dir():
        found = []
        for folder, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            found += [Path(folder, n) for n in names if not n.startswith(".")]
        if not found:
            raise ValueError(f"{source} is a folder with no files in it")
        return sorted(found, key=lambda p: p.parts)
    if any(c in source for c in "*?["):
        matches = [Path(m) for m in glob.glob(os.path.expanduser(source), recursive=True)]
        found = sorted((p for p in matches if p.is_file()), key=lambda p: p.parts)
        if found:
            return found
    raise ValueError(f"unknown source {source!r}: no such file, folder or glob match; give {FORMS}")


def _read_text(path: Path) -> tuple[str | None, str]:
    """(text, "") or (None, why it was skipped)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return None, f"unreadable: {e.strerror}"
    if b"\0" in data:  # binary formats, and UTF-16/32 text, hold NUL bytes
        return None, "binary"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, "not UTF-8"
    return text.replace("\r\n", "\n").replace("\r", "\n"), ""


def _from_files(source: str, files: list[Path]) -> list[Document]:
    documents, skipped = [], []
    for path in files:
        text, why = _read_text(path)
        if text is None:
            skipped.append(f"{path.as_posix()} ({why})")
        else:
            documents.append(Document(path.as_posix(), text))
    if skipped and not documents:
        raise ValueError(
            f"no text found in {source} ({len(skipped)} files skipped: {_listed(skipped)})"
        )
    if skipped:
        warnings.warn(
            f"{source}: skipped {len(skipped)} files that are not UTF-8 text: {_listed(skipped)}",
            stacklevel=3,
        )
    return documents


# ---- tables: CSV, TSV, JSON lines, SQLite -------------------------------------------------


def _no_column(where: object, column: str, columns: Sequence[str]) -> ValueError:
    listed = ", ".join(columns) or "(none)"
    return ValueError(f"{where} has no column {column!r}; its columns are: {listed}")


def _cell(value: object, where: str) -> str:
    """A table cell as text: missing and NULL cells are empty; numbers and blobs are errors."""
    if value is None or isinstance(value, str):
        return value or ""
    raise ValueError(
        f"{where} holds a {type(value).__name__}, not text; store the text as a string"
    )


def _from_csv(path: Path, column: str) -> list[Document]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f, delimiter=delimiter)
            if column not in (reader.fieldnames or []):
                raise _no_column(path, column, reader.fieldnames or [])
            try:
                return [
                    Document(f"{path.as_posix()}:row {i}", _cell(row[column], f"{path} row {i}"))
                    for i, row in enumerate(reader, start=1)
                ]
            except csv.Error as e:  # an overlong field, a NUL byte
                raise ValueError(f"{path} line {reader.line_num}: {e}; fix that line") from e
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text; save it as UTF-8") from e


def _from_jsonl(path: Path, column: str) -> list[Document]:
    """One document per object holding ``column``; objects without it are skipped."""
    documents, keys = [], set()
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text; save it as UTF-8") from e
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{where} is not valid JSON ({e.msg}); write one object per line"
            ) from e
        if not isinstance(row, dict):
            raise ValueError(f"{where} is a JSON {type(row).__name__}, not an object")
        keys.update(row)
        if column in row:
            documents.append(
                Document(f"{path.as_posix()}:line {number}", _cell(row[column], where))
            )
    if keys and not documents:
        raise _no_column(path, column, sorted(keys))
    return documents


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _from_sqlite(path: Path, table: str, column: str) -> list[Document]:
    """Rows of ``table`` in rowid order, through a read-only connection."""
    if not path.is_file():  # checked first: connect() would create an empty database
        raise ValueError(f"no SQLite database at {path}; check the path (sqlite:///relative.db)")
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            query = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            tables = [name for (name,) in db.execute(query)]
            if table not in tables:
                listed = ", ".join(tables) or "(none)"
                raise ValueError(f"{path} has no table {table!r}; its tables are: {listed}")
            info = db.execute(f"PRAGMA table_info({_quoted(table)})").fetchall()
            columns = [row[1] for row in info]
            if column not in columns:
                raise _no_column(f"{path} table {table!r}", column, columns)
            # "INT" in the declared type is SQLite's own rule for an integer column.
            counted = any(c[1] == "count" and "INT" in c[2].upper() for c in info)
            count = '"count"' if counted else "1"
            rows = db.execute(
                f"SELECT rowid, {_quoted(column)}, {count} FROM {_quoted(table)} ORDER BY rowid"
            ).fetchall()
    except sqlite3.Error as e:  # not a database, locked, a table without rowid
        raise ValueError(f"cannot read {path} as SQLite ({e})") from e
    name = f"{path.as_posix()}:{table}"
    documents = []
    for rowid, value, count in rows:
        where = f"{path} {table} rowid {rowid}"
        if count is None:  # an unknown count: seen once
            count = 1
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"{where} has count {count!r}; counts must be positive ints")
        documents.append(Document(f"{name} rowid {rowid}", _cell(value, where), count))
    return documents
