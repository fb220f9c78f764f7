"""The query store: schema, counts, file formats, idempotent and all-or-nothing ingests
(an error, Ctrl-C, a killed process), threads, and `rnnkit ingest` (feedback: test_feedback)."""

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from rnnkit.cli import main
from rnnkit.data.sources import load_documents
from rnnkit.data.store import MAX_LENGTH, IngestReport, QueryStore

QUERIES = ["las vegas hotels", "  las   vegas\thotels ", "", "cheap flights", "las vegas hotels"]
EXPECTED = [("las vegas hotels", 3), ("cheap flights", 1)]


def rows(path, sql="SELECT text, count FROM queries ORDER BY id"):
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def snapshot(path):
    """The database file's bytes and its full SQL dump (schema and every row)."""
    data = path.read_bytes()
    with contextlib.closing(sqlite3.connect(path)) as db:
        return data, list(db.iterdump())


@pytest.fixture
def store(tmp_path):
    return QueryStore(tmp_path / "queries.db")


def test_a_new_store_has_the_schema_readers_rely_on(store):
    with contextlib.closing(sqlite3.connect(store.path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        columns = {
            table: [(c[1], c[2], c[3], c[5]) for c in db.execute(f"PRAGMA table_info({table})")]
            for table in ("queries", "ingests", "feedback")
        }
    assert columns == {
        "queries": [("id", "INTEGER", 0, 1), ("text", "TEXT", 1, 0), ("count", "INTEGER", 1, 0),
                    ("first_seen", "TEXT", 1, 0), ("last_seen", "TEXT", 1, 0)],
        "ingests": [("digest", "TEXT", 0, 1), ("source", "TEXT", 1, 0), ("rows", "INTEGER", 1, 0),
                    ("at", "TEXT", 1, 0)],
        "feedback": [("id", "INTEGER", 0, 1), ("query", "TEXT", 1, 0),
                     ("completion", "TEXT", 1, 0), ("at", "TEXT", 1, 0),
                     ("admitted", "TEXT", 0, 0)],
    }  # fmt: skip
    assert len(store) == store.total() == 0 and store.top() == []
    assert QueryStore(f"sqlite:///{store.path}").path == store.path  # reopening keeps it


def test_record_counts_normalised_text_with_utc_timestamps(store):
    start = datetime.now(UTC)
    assert [store.record(q) for q in ("las vegas", " las \n vegas ", "paris")] == [1, 2, 1]
    assert store.record("paris", count=5) == 6
    assert store.top() == [("paris", 6), ("las vegas", 2)]
    assert store.top(1) == [("paris", 6)] and len(store) == 2 and store.total() == 8
    [(first, last)] = rows(store.path, "SELECT first_seen, last_seen FROM queries WHERE id = 1")
    first, last = datetime.fromisoformat(first), datetime.fromisoformat(last)
    assert first.utcoffset() == timedelta(0) and start - timedelta(seconds=1) < first <= last


@pytest.mark.parametrize(
    ("text", "count", "message"),
    [
        ("  \n ", 1, "text is empty"),
        (3, 1, "text must be a string, got int"),
        ("x" * (MAX_LENGTH + 1), 1, "text is 1,001 characters long; a query may have at most"),
        ("ok", 0, "count must be a positive int up to 1,000,000,000, got 0"),
        ("ok", True, "count must be a positive int"),
        ("ok", 2.0, "count must be a positive int"),
    ],
)
def test_record_rejects_bad_input_and_writes_nothing(store, text, count, message):
    with pytest.raises(ValueError, match=message):
        store.record(text, count=count)
    assert len(store) == 0


def test_threads_sharing_one_store_lose_no_count(store):
    def work():
        for _ in range(20):
            store.record("hot query")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.top() == [("hot query", 80)]


# ---- ingesting files ----------------------------------------------------------------------


def write_source(folder, suffix, texts, counts=None):
    """``texts`` as a file of queries of that format, with ``counts`` (None: no count)."""
    path = folder / f"queries{suffix}"
    pairs = list(zip(texts, counts or [None] * len(texts), strict=True))
    if suffix == ".jsonl":
        objects = [{"text": t} | ({"count": c} if c else {}) for t, c in pairs]
        path.write_text("".join(json.dumps(o) + "\n" for o in objects))
    elif suffix in (".csv", ".tsv"):
        sep = "," if suffix == ".csv" else "\t"
        body = [f'{i}{sep}"{t}"{sep}{c or 1}' for i, (t, c) in enumerate(pairs)]
        lines = [f"id{sep}text{sep}count", *body]
        path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())  # BOM, CRLF
    else:
        path.write_text("\n".join(texts) + "\n")
    return path


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".tsv", ".jsonl"])
def test_every_format_ingests_the_same_counts(store, tmp_path, suffix):
    path = write_source(tmp_path, suffix, QUERIES)
    report = store.ingest(path)
    assert (report.rows, report.new, report.updated, report.added) == (4, 2, 0, 4)
    assert rows(store.path) == EXPECTED and not report.skipped
    [(source, read)] = rows(store.path, "SELECT source, rows FROM ingests")
    assert source == str(path.resolve()) and read == 4


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_count_column_adds_that_many(store, tmp_path, suffix):
    store.record("paris")
    path = write_source(tmp_path, suffix, ["paris", "rome", "paris"], counts=[10, 3, None])
    report = store.ingest(path)
    assert (report.rows, report.new, report.updated, report.added) == (3, 1, 1, 14)
    assert rows(store.path) == [("paris", 12), ("rome", 3)]
    assert report.summary() == f"{path}: 3 rows, 1 new query, 1 updated, 14 counts added"


def test_the_same_bytes_twice_change_nothing(store, tmp_path):
    path = write_source(tmp_path, ".txt", QUERIES)
    first = store.ingest(path)
    before = snapshot(store.path)
    copy = tmp_path / "copy.log"
    copy.write_bytes(path.read_bytes())
    for again in (store.ingest(path), store.ingest(copy, column="ignored")):
        assert again == IngestReport(str(again.source), 4, 0, 0, 0, True, first.digest)
        assert again.summary().endswith(
            f"already ingested (sha256 {first.digest[:8]}...), nothing changed"
        )
    assert snapshot(store.path) == before
    path.write_text("\n".join(QUERIES) + "\nnew one\n")  # new bytes: counted again
    assert store.ingest(path).updated == 2 and store.total() == 9


@pytest.mark.parametrize(
    ("name", "content", "column", "message"),
    [
        ("gone.txt", None, None, "no such file: .*gone.txt; check the path"),
        ("q.csv", "query\nx\n", None, "has no column 'text'; its columns are: query$"),
        ("q.csv", "text\nx\n", "query", "has no column 'query'; its columns are: text$"),
        ("q.jsonl", '{"q": "x"}\n', None, "has no column 'text'; its columns are: q$"),
        ("q.jsonl", '{"text": "a"}\n{oops\n', None, "line 2 is not valid JSON"),
        ("q.jsonl", '{"text": 5}\n', None, "line 1 holds a int, not text"),
        ("q.txt", b"caf\xe9\n", None, r"not UTF-8 text \(byte 3\); save it as UTF-8"),
        ("q.txt", "ok\n" + "x" * 1001, None, "q.txt line 2 is 1,001 characters long"),
        ("q.csv", "text,count\na,1\nb,0\n", None, "q.csv line 3: count must be a positive"),
        ("q.csv", "text,count\na,\n", None, "line 2: count must be a positive int .*got ''"),
        ("q.jsonl", '{"text": "a", "count": 1.5}\n', None, "line 1: count must .*got 1.5"),
        ("q.jsonl", '{"text": "a", "count": true}\n', None, "line 1: count must .*got True"),
        ("q.csv", "text\nok\nesc \x1b[2J\n", None, r"q.csv line 3 holds the control .*U\+001B"),
        ("q.jsonl", '{"text": "nul \\u0000"}\n', None, r"line 1 holds the control .*U\+0000"),
        ("q.txt", "del \x7f here\n", None, r"q.txt line 1 holds the control character U\+007F"),
    ],
)
def test_bad_files_are_one_line_errors_that_change_nothing(
    store, tmp_path, name, content, column, message
):
    store.record("kept")
    before = snapshot(store.path)
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        store.ingest(path, column=column)
    assert "\n" not in str(error.value)
    assert snapshot(store.path) == before


def test_an_error_in_row_500_leaves_the_database_as_it_was(store, tmp_path):
    store.ingest(write_source(tmp_path, ".txt", QUERIES))
    before = snapshot(store.path)
    lines = ["text,count"] + [f"query {i},{'many' if i == 500 else 2}" for i in range(1, 1001)]
    (tmp_path / "big.csv").write_text("\n".join(lines))
    with pytest.raises(ValueError, match="big.csv line 501: count must be a positive int"):
        store.ingest(tmp_path / "big.csv")
    assert snapshot(store.path) == before


def test_a_failure_while_writing_rolls_the_whole_file_back(store, tmp_path):
    store.record("query 3")
    with contextlib.closing(sqlite3.connect(store.path)) as db:  # fails the 500th new row
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON queries WHEN NEW.text = 'query 500' "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        db.commit()
    before = snapshot(store.path)
    (tmp_path / "q.txt").write_text("".join(f"query {i}\n" for i in range(1000)))
    with pytest.raises(ValueError, match=r"cannot use .*queries.db as a query store \(disk on"):
        store.ingest(tmp_path / "q.txt")
    assert snapshot(store.path) == before


def size(path):
    """The size of a file that another process may create or delete at any moment."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """200,000 distinct queries: more than SQLite's page cache, so the ingest spills
    uncommitted pages into the -wal file while its transaction is open."""
    path = tmp_path_factory.mktemp("big") / "big.txt"
    path.write_text("".join(f"query number {i} about things\n" for i in range(200_000)))
    return path


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_a_process_stopped_mid_ingest_leaves_the_database_as_it_was(store, tmp_path, big_file, sig):
    store.ingest(write_source(tmp_path, ".txt", QUERIES))
    before = snapshot(store.path)
    wal = store.path.with_name(store.path.name + "-wal")
    assert not wal.exists()  # everything is in the main file: the bytes compare is exact
    code = f"from rnnkit.data.store import QueryStore; QueryStore({str(store.path)!r}).ingest("
    proc = subprocess.Popen(
        [sys.executable, "-c", f"{code}{str(big_file)!r})"], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    # Uncommitted pages in the log: the transaction is open and well short of its commit.
    while size(wal) < 256 * 1024:
        if proc.poll() is not None:
            pytest.fail(f"the ingest ended before it could be stopped: {proc.stderr.read()}")
        assert time.monotonic() < deadline, "the ingest never began writing"
        time.sleep(0.002)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -sig  # Python ends an unhandled Ctrl-C with the signal too
    assert sig == signal.SIGKILL or err.rstrip().endswith("KeyboardInterrupt"), err
    assert store.path.read_bytes() == before[0]  # nothing reached the main file
    assert snapshot(store.path) == before  # and the log's uncommitted frames are ignored
    assert store.ingest(write_source(tmp_path, ".csv", ["after"])).new == 1  # still usable
    assert len(store) == 3


# ---- the store as a training source, and the command line ---------------------------------


def test_training_reads_each_distinct_query_with_its_count(store, tmp_path):
    store.ingest(write_source(tmp_path, ".txt", QUERIES))
    documents = load_documents(f"sqlite:///{store.path}")
    assert [(d.text, d.count) for d in documents] == EXPECTED


@pytest.mark.parametrize(
    ("declared", "value", "expected"),
    [("INTEGER", 7, 7), ("INTEGER", None, 1), ("TEXT", "7", 1), ("INTEGER", 0, "has count 0")],
)
def test_other_tables_count_only_with_a_positive_integer_column(
    tmp_path, declared, value, expected
):
    path = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"CREATE TABLE queries (text TEXT, count {declared})")
        db.execute("INSERT INTO queries VALUES ('a', ?)", (value,))
        db.commit()
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=f"rowid 1 {expected}; counts must be positive ints"):
            load_documents(str(path))
    else:
        assert [d.count for d in load_documents(str(path))] == [expected]


def test_a_file_that_is_not_a_query_store_is_refused(tmp_path):
    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE queries (id INTEGER PRIMARY KEY, text TEXT)")
    with pytest.raises(ValueError, match="table queries without the columns count, first_seen"):
        QueryStore(other)
    (tmp_path / "notes.txt").write_text("not a database, not at all, no sir" * 10)
    with pytest.raises(ValueError, match="cannot use .*notes.txt as a query store"):
        QueryStore(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="folder .*missing does not exist; create it first"):
        QueryStore(tmp_path / "missing" / "q.db")


def test_cli_ingest_prints_a_line_per_file_and_a_summary(tmp_path, capsys):
    text = write_source(tmp_path, ".txt", QUERIES)
    table = write_source(tmp_path, ".csv", ["paris", "cheap flights"], counts=[2, 1])
    db = tmp_path / "queries.db"
    assert main(["ingest", f"sqlite:///{db}", str(text), str(table), str(text)]) == 0
    digest = QueryStore(db).ingest(text).digest[:8]
    assert capsys.readouterr().out.splitlines() == [
        f"{text}: 4 rows, 2 new queries, 0 updated, 4 counts added",
        f"{table}: 2 rows, 1 new query, 1 updated, 3 counts added",
        f"{text}: already ingested (sha256 {digest}...), nothing changed",
        f"{db}: 3 distinct queries, total count 7",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.txt"], "no such file: missing.txt; check the path"),
        (
            ["q.csv", "--column", "query"],
            "q.csv has no column 'query'; its columns are: text, count",
        ),
        (["bad.csv"], "bad.csv line 3: count must be a positive int up to 1,000,000,000, got 'x'"),
    ],
)
def test_cli_ingest_bad_input_is_one_line_and_changes_nothing(
    tmp_path, capsys, monkeypatch, argv, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "q.csv").write_text("text,count\nparis,2\n")
    (tmp_path / "bad.csv").write_text("text,count\nrome,1\nparis,x\n")
    store = QueryStore(tmp_path / "queries.db")
    store.record("kept")
    before = snapshot(store.path)
    assert main(["ingest", "queries.db", *argv]) == 2
    err = capsys.readouterr().err
    assert err == f"rnnkit: error: {message}\n"
    assert snapshot(store.path) == before
