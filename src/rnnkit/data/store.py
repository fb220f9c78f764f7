"""The query store: the phrases people type into a search box, counted, in one SQLite file.

    store = QueryStore("queries.db")           # created, with its schema, when missing
    store.ingest("queries.txt")                # or .csv/.tsv (column "text"), .jsonl (field "text")
    store.record("las vegas hotels")           # one typed query; returns its new count
    store.record_feedback("las v", "las vegas hotels")  # a completion accepted: kept apart
    store.admit_feedback()                     # ... until admitted: then counted as queries
    store.top(10), len(store), store.total()   # most frequent, distinct queries, sum of counts

A language model trains from the same file: ``rnnkit train lm --data sqlite:///queries.db``
reads one document per distinct query, carrying its count (`rnnkit.data.sources`). It reads
the ``queries`` table only: feedback from a web page (anyone who can reach the server) waits in
``feedback`` until someone admits it (``rnnkit ingest DB --admit-feedback``).

Schema (readers rely on it; timestamps are ISO-8601 UTC)::

    queries(id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE, count INTEGER NOT NULL,
            first_seen TEXT NOT NULL, last_seen TEXT NOT NULL)
    ingests(digest TEXT PRIMARY KEY, source TEXT NOT NULL, rows INTEGER NOT NULL,
            at TEXT NOT NULL)           -- one row per file ingested: its SHA-256
    feedback(id INTEGER PRIMARY KEY, query TEXT NOT NULL, completion TEXT NOT NULL,
             at TEXT NOT NULL, admitted TEXT)  -- completions users accepted, and what they
                                        -- had typed; admitted: when counted (NULL: not yet)

Texts are normalised before they are stored (stripped, each whitespace run made one space);
empty ones are skipped; longer ones than `MAX_LENGTH` characters, and ones holding a control
character (NUL, escape, ...; tabs and line breaks are whitespace), are an error.

Every operation opens its own connection, so one store may be shared by a web server's worker
threads and by other processes. The journal is write-ahead (WAL: readers never wait for the
writer) and a writer waits up to ``busy_timeout`` seconds (default `BUSY_TIMEOUT`) for
another's lock, then raises `StoreBusy`. Each write is one
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

from rnnkit.data.queries import (
    MAX_COUNT,
    MAX_LENGTH,
    checked_count,
    checked_text,
    normalise,
    read_queries,
)
from rnnkit.data.registry import sqlite_path
from rnnkit.data.tables import check_file

__all__ = [
    "MAX_COUNT",
    "MAX_LENGTH",
    "IngestReport",
    "QueryStore",
    "StoreBusy",
    "checked_text",
    "normalise",
    "sqlite_path",
]

BUSY_TIMEOUT = 30.0  # seconds a write waits while another connection holds the lock

SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS queries (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE,
    count INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ingests (digest TEXT PRIMARY KEY, source TEXT NOT NULL,
    rows INTEGER NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY, query TEXT NOT NULL,
    completion TEXT NOT NULL, at TEXT NOT NULL, admitted TEXT);
COMMIT;
"""
COLUMNS = {
    "queries": ("id", "text", "count", "first_seen", "last_seen"),
    "ingests": ("digest", "source", "rows", "at"),
    "feedback": ("id", "query", "completion", "at", "admitted"),
}
# Stores made before feedback waited for admission counted it at once: it is admitted.
UPGRADE = """
BEGIN IMMEDIATE;
ALTER TABLE feedback ADD COLUMN admitted TEXT;
UPDATE feedback SET admitted = at;
COMMIT;
"""
UPSERT = (
    "INSERT INTO queries (text, count, first_seen, last_seen) VALUES (?, ?, ?, ?) "
    "ON CONFLICT(text) DO UPDATE SET count = count + excluded.count, last_seen = excluded.last_seen"
)


class StoreBusy(ValueError):
    """Another connection held the store's write lock past the busy timeout: try again."""


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
    its tables are created when missing, in a folder that must exist. ``busy_timeout``:
    seconds a write waits for another connection's lock before `StoreBusy` (default
    `BUSY_TIMEOUT`; a web server wants a short one, and to answer 503)."""

    def __init__(self, path: str | Path, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = sqlite_path(str(path))
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, int | float):
            raise ValueError(f"busy_timeout must be seconds (a number), got {busy_timeout!r}")
        if not 0 <= busy_timeout <= 3600:
            raise ValueError(f"busy_timeout must be 0 to 3600 seconds, got {busy_timeout}")
        self.busy_timeout = float(busy_timeout)
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
            feedback = {row[1] for row in db.execute("PRAGMA table_info(feedback)")}
            if "at" in feedback and "admitted" not in feedback:
                db.executescript(UPGRADE)
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
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            yield db
        except sqlite3.Error as e:  # not a database, locked past the timeout, disk full
            if getattr(e, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                waited = f"{self.busy_timeout:g} s"
                raise StoreBusy(f"{self.path} is busy (locked by another writer for over "
                                f"{waited}); try again") from e  # fmt: skip
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
        counts, rows = read_queries(path, data, column)
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
        query = checked_text(text, "text")
        count = checked_count(count, "count")
        with self._transaction() as db:
            return _upsert(db, query, count, _now())

    def record_feedback(self, query: str, completion: str) -> int:
        """Log that a user who typed ``query`` accepted ``completion`` (the whole text), both
        normalised, in ``feedback``; returns the row's id. Nothing is counted as a query (so
        trained on) until `admit_feedback`: anyone who reaches the server can send this."""
        typed = checked_text(query, "query")
        accepted = checked_text(completion, "completion")
        with self._transaction() as db:
            row = (typed, accepted, _now())
            sql = "INSERT INTO feedback (query, completion, at) VALUES (?, ?, ?) RETURNING id"
            return db.execute(sql, row).fetchone()[0]

    def admit_feedback(self) -> tuple[int, int]:
        """Count the completion of every feedback row not yet admitted as a query typed once
        more, so the next training learns from it, and mark the rows admitted (one
        transaction). Returns (rows admitted, distinct completions among them)."""
        now = _now()
        with self._transaction() as db:
            pending = db.execute(
                "SELECT completion, COUNT(*) FROM feedback WHERE admitted IS NULL "
                "GROUP BY completion ORDER BY MIN(id)"
            ).fetchall()
            db.executemany(UPSERT, ((text, n, now, now) for text, n in pending))
            db.execute("UPDATE feedback SET admitted = ? WHERE admitted IS NULL", (now,))
        return sum(n for _, n in pending), len(pending)

    # ---- reading ----------------------------------------------------------------------------

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        """The ``n`` (default 10) most frequent queries with their counts, most frequent first
        (ties: the first stored first)."""
        n = checked_count(n, "n")
        query = "SELECT text, count FROM queries ORDER BY count DESC, id LIMIT ?"
        with self._connect() as db:
            return [(text, count) for text, count in db.execute(query, (n,))]

    def __len__(self) -> int:
        """The number of distinct queries."""
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM queries").fetchone()[0]

    def total(self) -> int:
        """The sum of all counts: how many queries were typed, admitted feedback included."""
        with self._connect() as db:
            return db.execute("SELECT COALESCE(SUM(count), 0) FROM queries").fetchone()[0]

    def pending_feedback(self) -> int:
        """The feedback rows waiting for `admit_feedback`."""
        with self._connect() as db:
            sql = "SELECT COUNT(*) FROM feedback WHERE admitted IS NULL"
            return db.execute(sql).fetchone()[0]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _ingested(db: sqlite3.Connection, digest: str) -> int | None:
    """The rows an earlier ingest of these bytes read, or None if there was none."""
    row = db.execute("SELECT rows FROM ingests WHERE digest = ?", (digest,)).fetchone()
    return None if row is None else row[0]


def _upsert(db: sqlite3.Connection, text: str, count: int, now: str) -> int:
    rows = db.execute(UPSERT + " RETURNING count", (text, count, now, now)).fetchall()
    return rows[0][0]
