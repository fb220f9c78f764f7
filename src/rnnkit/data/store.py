"""The query store: the phrases people type into a search box, counted, in one SQLite file.

    store = QueryStore("queries.db")           # created, with its schema, when missing
    store.ingest("queries.txt")                # or .csv/.tsv (column "text"), .jsonl (field "text")
    store.record("las vegas hotels")           # one typed query; returns its new count
    store.record_feedback("las v", "las vegas hotels")  # a completion the user accepted
    store.top(10), len(store), store.total()   # most frequent, distinct queries, sum of counts

A language model trains from the same file: ``rnnkit train lm --data sqlite:///queries.db``
reads one document per distinct query, carrying its count (`rnnkit.data.sources`).

Schema (readers rely on it; timestamps are ISO-8601 UTC)::

    queries(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE, count INTEGER NOT NULL,
            first_seen TEXT NOT NULL, last_seen TEXT NOT NULL)
    ingests(digest TEXT PRIMARY KEY, source TEXT NOT NULL, rows INTEGER NOT NULL,
            at TEXT NOT NULL)           -- one row per file ingested: its SHA-256
    feedback(id INTEGER PRIMARY KEY, query TEXT NOT NULL, completion TEXT NOT NULL,
             at TEXT NOT NULL)          -- completions users accepted, and what they had typed

Texts are normalised before they are stored (stripped, each whitespace run made one space);
empty ones are skipped, and longer ones than `MAX_LENGTH` characters are an error.

Every operation opens its own connection, so one store may be shared by a web server's worker
threads and by other processes. The journal is write-ahead (WAL: readers never wait for the
writer) and a writer waits up to `BUSY_TIMEOUT` seconds for another's lock. Each write is one
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): an error, Ctrl-C or a killed process leaves
the database exactly as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rnnkit.data.registry import sqlite_path
from rnnkit.data.tables import check_file, decode, lines, parse_table

__all__ = ["MAX_COUNT", "MAX_LENGTH", "IngestReport", "QueryStore", "normalise", "sqlite_path"]

MAX_LENGTH = 1000  # characters in a normalised query; longer text is not something people type
MAX_COUNT = 10**9  # the most one row or call may add, far from SQLite's 64-bit limit
BUSY_TIMEOUT = 30.0  # seconds a write waits while another connection holds the lock
TABLES = (".csv", ".tsv", ".jsonl")

SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS queries (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE,
    count INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ingests (digest TEXT PRIMARY KEY, source TEXT NOT NULL,
    rows INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY, query TEXT NOT NULL,
    completion TEXT NOT NULL, at TEXT NOT NULL);
COMMIT;
"""
COLUMNS = {
    "queries": ("id", "text", "count", "first_seen", "last_seen"),
    "ingests": ("digest", "source", "rows", "at"),
    "feedback": ("id", "query", "completion", "at"),
}
UPSERT = (
    "INSERT INTO queries (text, count, first_seen, last_seen) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(text) DO UPDATE SET count = count + excluded.count, last_seen = excluded.last_seen"
)


def normalise(text: str) -> str:
    """``text`` stripped, with every run of whitespace (newlines and tabs too) one space."""
    return " ".join(text.split())


@dataclass(frozen=True)
class IngestReport:
    """What one `QueryStore.ingest` did.

    ``rows``: rows holding a query (blank ones are not counted); ``new``: distinct queries the
    store did not hold; ``updated``: distinct queries it held, now counted up; ``added``: the
    sum of the counts added; ``skipped``: the same bytes were ingested before, so nothing
    changed (``rows`` is then what that earlier ingest read); ``digest``: the file's SHA-256.
    """

    source: str
    rows: int
    new: int
    updated: int
    added: int
    skipped: bool
    digest: str

    def summary(self) -> str:
        """One line for people, as ``rnnkit ingest`` prints it."""
        if self.skipped:
            return f"{self.source}: already ingested (sha256 {self.digest[:8]}...), nothing changed"
        rows, new = _plural(self.rows, "row"), _plural(self.new, "new query", "new queries")
        added = _plural(self.added, "count")
        return f"{self.source}: {rows}, {new}, {self.updated:,} updated, {added} added"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


class QueryStore:
    """The queries in the SQLite file ``path`` (a path, or ``sqlite:///path``); the file and
    its tables are created when missing, in a folder that must exist."""

    def __init__(self, path: str | Path) -> None:
        self.path = sqlite_path(str(path))
        if str(self.path) == ":memory:":
            raise ValueError("a query store needs a file: ':memory:' would vanish between calls")
        if self.path.is_dir():
            raise ValueError(f"{self.path} is a folder; give a file such as queries.db")
        if not self.path.parent.is_dir():
            raise ValueError(f"folder {self.path.parent} does not exist; create it first")
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # persistent: stored in the file
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            if not set(COLUMNS) <= tables:
                db.executescript(SCHEMA)
            for table, wanted in COLUMNS.items():
                have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if missing := [c for c in wanted if c not in have]:
                    raise ValueError(
                        f"{self.path} has a table {table} without the columns "
                        f"{', '.join(missing)}; give a new file for the query store"
                    )

    def __repr__(self) -> str:
        return f"QueryStore({str(self.path)!r})"

    # ---- connections and transactions ----------------------------------------------------

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own, in autocommit mode (transactions are explicit), closed on
        exit; SQLite errors become one-line ValueErrors naming the file."""
        db = None
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
            yield db
        except sqlite3.Error as e:  # not a database, locked past the timeout, disk full
            raise ValueError(f"cannot use {self.path} as a query store ({e})") from e
        finally:
            if db is not None:
                db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed when the block ends, rolled back on any exception,
        KeyboardInterrupt included (a killed process never commits, so it changes nothing)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first write
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ---- writing ----------------------------------------------------------------------------

    def ingest(self, source: str | Path, column: str | None = None) -> IngestReport:
        """Add the queries of the file ``source``, each row adding 1 to the count of its text.

        Formats, by suffix: ``.csv``/``.tsv`` (the column ``column``, default ``"text"``),
        ``.jsonl`` (one object per line, the field ``column``; objects without it are
        skipped), anything else plain text (one query per non-empty line; ``column`` is
        ignored). A ``count`` column or field (a positive int) adds that many instead of 1.
        The whole file is read and checked before anything is written, then written in one
        transaction with its SHA-256 in ``ingests``: the same bytes again change nothing and
        report ``skipped=True``. Raises ValueError, naming the line, for anything to fix.
        """
        path = check_file(source)
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        with self._connect() as db:
            done = _ingested(db, digest)
        if done is not None:
            return IngestReport(str(source), done, 0, 0, 0, True, digest)
        counts, rows = _read_queries(path, data, column)
        now = _now()
        with self._transaction() as db:
            done = _ingested(db, digest)  # again, under the lock: another process may have won
            if done is not None:
                return IngestReport(str(source), done, 0, 0, 0, True, digest)
            (last_id,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM queries").fetchone()
            # A generator, not a list: Python runs between rows, so Ctrl-C stops the ingest.
            db.executemany(UPSERT, ((text, n, now, now) for text, n in counts.items()))
            # New rows get ids past the old largest one; an update keeps its row's id.
            query = "SELECT COUNT(*) FROM queries WHERE id > ?"
            (new,) = db.execute(query, (last_id,)).fetchone()
            entry = (digest, str(path.resolve()), rows, now)
            db.execute("INSERT INTO ingests (digest, source, rows, at) VALUES (?, ?, ?, ?)", entry)
        added = sum(counts.values())
        return IngestReport(str(source), rows, new, len(counts) - new, added, False, digest)

    def record(self, text: str, count: int = 1) -> int:
        """Add ``count`` (default 1) to the count of ``text``; returns its new count."""
        query = _checked_text(text, "text")
        count = _checked_count(count, "count")
        with self._transaction() as db:
            return _upsert(db, query, count, _now())

    def record_feedback(self, query: str, completion: str) -> int:
        """Log that a user who typed ``query`` accepted ``completion`` (the whole text), and
        count ``completion`` as a query typed once more, so the next training learns from it.
        Both are stored normalised; returns the completion's new count."""
        typed = _checked_text(query, "query")
        accepted = _checked_text(completion, "completion")
        now = _now()
        with self._transaction() as db:
            row = (typed, accepted, now)
            db.execute("INSERT INTO feedback (query, completion, at) VALUES (?, ?, ?)", row)
            return _upsert(db, accepted, 1, now)

    # ---- reading ----------------------------------------------------------------------------

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        """The ``n`` (default 10) most frequent queries with their counts, most frequent first
        (ties: the first stored first)."""
        n = _checked_count(n, "n")
        query = "SELECT text, count FROM queries ORDER BY count DESC, id LIMIT ?"
        with self._connect() as db:
            return [(text, count) for text, count in db.execute(query, (n,))]

    def __len__(self) -> int:
        """The number of distinct queries."""
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM queries").fetchone()[0]

    def total(self) -> int:
        """The sum of all counts: how many queries were typed, feedback included."""
        with self._connect() as db:
            return db.execute("SELECT COALESCE(SUM(count), 0) FROM queries").fetchone()[0]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _ingested(db: sqlite3.Connection, digest: str) -> int | None:
    """The rows an earlier ingest of these bytes read, or None if there was none."""
    row = db.execute("SELECT rows FROM ingests WHERE digest = ?", (digest,)).fetchone()
    return None if row is None else row[0]


def _upsert(db: sqlite3.Connection, text: str, count: int, now: str) -> int:
    rows = db.execute(UPSERT + " RETURNING count", (text, count, now, now)).fetchall()
    return rows[0][0]


def _checked_text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    text = normalise(value)
    if not text:
        raise ValueError(f"{name} is empty; give the text that was typed")
    return _short(text, name)


def _short(text: str, where: str) -> str:
    if len(text) > MAX_LENGTH:
        raise ValueError(
            f"{where} is {len(text):,} characters long; a query may have at most "
            f"{MAX_LENGTH:,}: shorten or drop it"
        )
    return text


def _checked_count(value: object, where: str) -> int:
    """A positive int up to `MAX_COUNT`; digit strings (CSV cells) are read as ints."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise ValueError(f"{where} must be a positive int up to {MAX_COUNT:,}, got {value!r}")
    return value


# ---- reading files of queries -------------------------------------------------------------

Row = tuple[int, object, object]  # (line number, text, count)


def _read_queries(path: Path, data: bytes, column: str | None = None) -> tuple[dict[str, int], int]:
    """({normalised query: count to add}, rows holding a query) for the bytes ``data`` of the
    file ``path`` (its suffix picks the format; see `QueryStore.ingest`)."""
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
            _short(query, where)
            counts[query] = counts.get(query, 0) + _checked_count(count, f"{where}: count")
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
