"""Text sources: where the documents a language model reads come from.

`load_documents(source)` turns one string into a list of `Document` (a name saying where the
text came from, and the text). ``source`` is classified once by
`rnnkit.data.registry.parse_source`, then read as one of these forms:

1. ``"stdlib"`` (the default; no download, same text on every machine with the same Python):
   the docstrings of the running interpreter's standard library, one document per module,
   class, function or async function docstring (see `rnnkit.data.corpora`), cached as
   JSON in the cache folder after the first extraction.
2. A named public corpus, ``"tiny-shakespeare"`` or ``"wikitext-2"`` (raw): downloaded once
   into the cache folder, then read offline (`rnnkit.data.corpora`). WikiText's articles
   carry their official part (train, valid, test).
3. SQLite: ``"sqlite:///relative/path.db"`` or ``"sqlite:////absolute/path.db"`` (SQLAlchemy's
   spelling), or an existing ``.db``/``.sqlite``/``.sqlite3`` file: one document per row of
   ``table`` (default ``"queries"``), from ``column`` (default ``"text"``), in rowid order,
   through a read-only connection (loading never creates or changes a database). When the
   table has an integer column ``count`` (as `rnnkit.data.store.QueryStore` writes it), each
   document carries that count: how many times the text was typed.
4. A ``.csv``, ``.tsv`` (tab-separated) or ``.jsonl`` (one JSON object per line) file, read
   by `rnnkit.data.tables`: one document per row, from ``column`` (default ``"text"``).
5. An existing text file (one document), or a folder: one document per file under it,
   recursively, sorted by path; hidden files and folders (``.git``) are tool metadata and
   are skipped. A folder that holds an official split, ``train.txt``, ``valid.txt`` and
   ``test.txt`` (or the WikiText and Penn Treebank names, `OFFICIAL_LAYOUTS`), is read as
   those three documents, each carrying its part; its other files are not read.
6. A glob such as ``"notes/*.md"`` or ``"docs/**/*.txt"``: one document per matching file.

Files must be UTF-8 text (a byte-order mark is dropped, line endings become ``\\n``): binary
files (a NUL byte) and other encodings are skipped with a warning naming them. Documents that
are empty or whitespace are dropped; a source with none left is an error.

`split_documents` is the train / validation / test split of the language model task: the
official parts when every document has one, else a fixed rule by position.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sqlite3
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from rnnkit.data.corpora import SPLITS, corpus_texts, stdlib_texts
from rnnkit.data.registry import Source, dataset, describe, parse_source
from rnnkit.data.remote import default_cache_dir
from rnnkit.data.tables import NotText, no_column, read_table, read_text

__all__ = [
    "OFFICIAL_LAYOUTS",
    "Document",
    "Split",
    "default_cache_dir",
    "load_documents",
    "split_documents",
]

FORMS = describe("text")
# Folders that hold an official split: the file names of its train, valid and test parts
# (PyTorch's word-language-model data, the WikiText archives, Mikolov's Penn Treebank).
OFFICIAL_LAYOUTS = (
    ("train.txt", "valid.txt", "test.txt"),
    ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),
    ("wiki.train.raw", "wiki.valid.raw", "wiki.test.raw"),
    ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
)
T = TypeVar("T")


@dataclass(frozen=True)
class Document:
    """A unit of text that is never cut across train, validation and test.

    ``name`` says where it came from: ``"notes/a.txt"``, ``"data.csv:row 12"``,
    ``"stdlib:json/decoder.py:JSONDecoder.decode"``. ``count`` (default 1) is how many times
    the text occurs, e.g. how often a query was typed (a SQLite ``count`` column). ``split``
    is the official part the document belongs to ("train", "valid" or "test"), or None.
    """

    name: str
    text: str
    count: int = 1
    split: str | None = None


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
    parsed = parse_source(source)
    if parsed.form == "named" and dataset(source, "text").layout == "stdlib":
        documents = [Document(*pair) for pair in stdlib_texts(cache)]
    elif parsed.form == "named":
        texts = corpus_texts(source, cache, offline=offline)
        documents = [Document(name, text, split=split) for name, text, split in texts]
    elif parsed.form == "sqlite" and parsed.path is not None:
        documents = _from_sqlite(parsed.path, table or "queries", column or "text")
    elif parsed.form == "table" and parsed.path is not None:
        documents = _from_table(parsed.path, column or "text")
    elif parsed.form == "folder" and (official := _official(parsed.path)):
        documents = _from_official(source, official)
    else:
        documents = _from_files(source, _files(parsed))
    _warn_unused(parsed.form, column, table)
    documents = [d for d in documents if d.text.strip()]
    if not documents:
        raise ValueError(f"{source} has no text")
    return documents


class Split(tuple, Generic[T]):
    """The three parts of a split, ``(train, val, test)``, and the ``rule`` that made them:
    "official" (the documents' own parts) or "i % 20" (by position). It unpacks and compares
    as the tuple of the three lists."""

    rule: str

    def __new__(cls, train: list[T], val: list[T], test: list[T], rule: str) -> Split[T]:
        parts = super().__new__(cls, (train, val, test))
        parts.rule = rule
        return parts

    @property
    def train(self) -> list[T]:
        return self[0]

    @property
    def val(self) -> list[T]:
        return self[1]

    @property
    def test(self) -> list[T]:
        return self[2]


def split_documents(documents: Sequence[T], every: int = 20) -> Split[T]:
    """(train, validation, test) of ``documents``, as a `Split` that names its rule.

    When every document has an official part (`Document.split`: a WikiText corpus, a folder
    of train.txt, valid.txt and test.txt) that part is kept: rule "official". Otherwise
    document i is test when i % every == every - 1, validation when i % every == every - 2,
    else train (90/5/5 with the default 20): rule "i % 20". Every part keeps corpus order,
    and no document is cut in two.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 3:
        raise ValueError(f"every must be an int of at least 3, got {every!r}")
    splits = [getattr(document, "split", None) for document in documents]
    if splits and all(split in SPLITS for split in splits):
        parts: dict[str, list[T]] = {name: [] for name in SPLITS}
        for document, split in zip(documents, splits, strict=True):
            parts[split].append(document)
        return Split(parts["train"], parts["valid"], parts["test"], "official")
    train: list[T] = []
    val: list[T] = []
    test: list[T] = []
    for i, document in enumerate(documents):
        part = test if i % every == every - 1 else val if i % every == every - 2 else train
        part.append(document)
    return Split(train, val, test, f"i % {every}")


def _warn_unused(form: str, column: str | None, table: str | None) -> None:
    if table is not None and form != "sqlite":
        warnings.warn(f"table={table!r} only applies to SQLite sources; ignored", stacklevel=3)
    if column is not None and form not in ("sqlite", "table"):
        warnings.warn(
            f"column={column!r} only applies to CSV/TSV/JSONL/SQLite sources; ignored",
            stacklevel=3,
        )


def _listed(items: list[str], limit: int = 10) -> str:
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


# ---- files, folders and globs -------------------------------------------------------------


def _visible(folder: Path) -> list[Path]:
    """The files under ``folder``, recursively, sorted by path; hidden files and folders
    (``.git``) are tool metadata and are left out."""
    found = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(parent, n) for n in names if not n.startswith(".")]
    return sorted(found, key=lambda p: p.parts)


def _files(source: Source) -> list[Path]:
    """The files ``source`` names, sorted; ValueError when it names none."""
    if source.form == "folder" and source.path is not None:
        found = _visible(source.path)
        if not found:
            raise ValueError(f"{source.text} is a folder with no files in it")
        return found
    if source.form == "file" and source.path is not None:
        return [source.path]
    if source.form == "glob":
        matches = [Path(m) for m in glob.glob(os.path.expanduser(source.text), recursive=True)]
        found = sorted((p for p in matches if p.is_file()), key=lambda p: p.parts)
        if found:
            return found
    raise ValueError(
        f"unknown source {source.text!r}: no such file, folder or glob match; give {FORMS}"
    )


def _read(path: Path) -> str:
    """The UTF-8 text of ``path`` with line endings made ``\\n``."""
    return read_text(path).replace("\r\n", "\n").replace("\r", "\n")


def _from_files(source: str, files: list[Path]) -> list[Document]:
    documents, skipped = [], []
    for path in files:
        try:
            documents.append(Document(path.as_posix(), _read(path)))
        except NotText as e:
            skipped.append(f"{path.as_posix()} ({e.reason})")
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


def _official(folder: Path | None) -> dict[str, Path]:
    """{part: file} of the first `OFFICIAL_LAYOUTS` whose three files ``folder`` holds."""
    for layout in OFFICIAL_LAYOUTS if folder is not None else ():
        files = [folder / name for name in layout]
        if all(f.is_file() for f in files):
            return dict(zip(SPLITS, files, strict=True))
    return {}


def _from_official(source: str, official: dict[str, Path]) -> list[Document]:
    """One document per part, carrying its part; the folder's other files are not read."""
    folder = next(iter(official.values())).parent
    others = [p.relative_to(folder).as_posix() for p in _visible(folder)]
    others = [name for name in others if folder / name not in official.values()]
    if others:
        warnings.warn(
            f"{source} holds the official split ({', '.join(p.name for p in official.values())})"
            f"; its other files are not read: {_listed(others)}",
            stacklevel=3,
        )
    return [Document(path.as_posix(), _read(path), split=part) for part, path in official.items()]


# ---- tables: CSV, TSV, JSON lines, SQLite -------------------------------------------------


def _cell(value: object, where: str) -> str:
    """A table cell as text: missing and NULL cells are empty; numbers and blobs are errors."""
    if value is None or isinstance(value, str):
        return value or ""
    raise ValueError(
        f"{where} holds a {type(value).__name__}, not text; store the text as a string"
    )


def _from_table(path: Path, column: str) -> list[Document]:
    """One document per row of a CSV/TSV file (named by its row number), or per line of a
    JSON-lines file that holds ``column`` (named by its line number)."""
    table = read_table(path)
    table.require(column)
    if table.jsonl:  # objects without the field are skipped
        rows = [row for row in table.rows if column in row.record]
        unit = [f"line {row.line}" for row in rows]
    else:
        rows = table.rows
        unit = [f"row {i}" for i in range(1, len(rows) + 1)]
    return [
        Document(f"{path.as_posix()}:{at}", _cell(row.get(column), f"{path} line {row.line}"))
        for at, row in zip(unit, rows, strict=True)
    ]


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
                raise no_column(f"{path} table {table!r}", column, columns)
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
