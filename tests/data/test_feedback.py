"""Feedback in the query store: logged apart, never trained on until admitted; refused when it
holds control characters; a busy store says so at once; `rnnkit ingest --admit-feedback`."""

import contextlib
import sqlite3
import time
from datetime import datetime, timedelta

import pytest

from rnnkit.cli import main
from rnnkit.data.sources import load_documents
from rnnkit.data.store import QueryStore, StoreBusy


def rows(path, sql):
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


@pytest.fixture
def store(tmp_path):
    return QueryStore(tmp_path / "queries.db")


def test_feedback_is_logged_apart_and_not_trained_on_until_admitted(store):
    store.record("eat in las vegas")
    assert store.record_feedback("eat in la", " eat in  las vegas ") == 1
    assert store.record_feedback("cheap", "cheap flights") == 2
    logged = rows(store.path, "SELECT query, completion, at, admitted FROM feedback ORDER BY id")
    assert [r[:2] for r in logged] == [
        ("eat in la", "eat in las vegas"),
        ("cheap", "cheap flights"),
    ]
    assert datetime.fromisoformat(logged[0][2]).utcoffset() == timedelta(0)
    assert [r[3] for r in logged] == [None, None]
    # Training reads the queries table only: feedback is not there yet.
    assert store.top() == [("eat in las vegas", 1)] and store.total() == 1
    assert [d.text for d in load_documents(f"sqlite:///{store.path}")] == ["eat in las vegas"]
    assert store.pending_feedback() == 2

    store.record_feedback("eat", "eat in las vegas")
    assert store.admit_feedback() == (3, 2)
    assert store.top() == [("eat in las vegas", 3), ("cheap flights", 1)]
    assert store.pending_feedback() == 0
    assert store.admit_feedback() == (0, 0)  # admitted once only
    assert store.total() == 4


@pytest.mark.parametrize(
    ("query", "completion", "message"),
    [
        ("", "x", "query is empty"),
        ("x", "  ", "completion is empty"),
        ("x", "y" * 1001, "completion is 1,001 characters long"),
        (None, "x", "query must be a string"),
        ("x", "nul\x00byte", r"completion holds the control character U\+0000 at character 4"),
        ("esc\x1b[31m", "x", r"query holds the control character U\+001B"),
        ("x", "c1 \x85\x9b", r"U\+009B"),  # NEL is whitespace, CSI is not
        ("x", "half \ud800", r"U\+D800"),
    ],
)
def test_bad_feedback_is_refused_and_writes_nothing(store, query, completion, message):
    with pytest.raises(ValueError, match=message):
        store.record_feedback(query, completion)
    assert rows(store.path, "SELECT * FROM feedback") == []


def test_a_store_made_before_admission_keeps_its_feedback_counted(tmp_path):
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript("""
            CREATE TABLE queries (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE,
                count INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);
            CREATE TABLE ingests (digest TEXT PRIMARY KEY, source TEXT NOT NULL,
                rows INTEGER NOT NULL, at TEXT NOT NULL);
            CREATE TABLE feedback (id INTEGER PRIMARY KEY, query TEXT NOT NULL,
                completion TEXT NOT NULL, at TEXT NOT NULL);
            INSERT INTO queries VALUES (1, 'las vegas', 1, '2024-01-01', '2024-01-01');
            INSERT INTO feedback VALUES (1, 'las', 'las vegas', '2024-01-01');
        """)
    store = QueryStore(path)  # counted when it was recorded: admitted, not counted again
    assert rows(path, "SELECT admitted FROM feedback") == [("2024-01-01",)]
    assert store.admit_feedback() == (0, 0) and store.top() == [("las vegas", 1)]


def test_a_locked_store_is_busy_at_once_not_after_30_seconds(tmp_path):
    store = QueryStore(tmp_path / "queries.db", busy_timeout=0.1)
    with contextlib.closing(sqlite3.connect(store.path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        began = time.monotonic()
        with pytest.raises(StoreBusy, match=r"is busy .*over 0.1 s\); try again"):
            store.record_feedback("las", "las vegas")
        assert time.monotonic() - began < 10  # the default would wait 30 s
        other.execute("ROLLBACK")
    assert store.record_feedback("las", "las vegas") == 1
    with pytest.raises(ValueError, match="busy_timeout must be 0 to 3600 seconds, got -1"):
        QueryStore(store.path, busy_timeout=-1)


def test_cli_ingest_admits_feedback_and_says_what_waits(tmp_path, capsys):
    db = tmp_path / "queries.db"
    store = QueryStore(db)
    store.record_feedback("las", "las vegas")
    store.record_feedback("la", "las vegas")
    (tmp_path / "q.txt").write_text("paris\n")
    assert main(["ingest", str(db), str(tmp_path / "q.txt")]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "feedback: 2 rows wait for admission (--admit-feedback)",
        f"{db}: 1 distinct queries, total count 1",
    ]
    assert main(["ingest", str(db), "--admit-feedback"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "feedback: 2 rows admitted, 1 distinct completions counted",
        f"{db}: 2 distinct queries, total count 3",
    ]
    assert main(["ingest", str(db)]) == 2
    assert "give files of queries to ingest, or --admit-feedback" in capsys.readouterr().err
