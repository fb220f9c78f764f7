"""What a hostile client tries: huge bodies, a feedback flood, a locked store, a Host header
of another site (DNS rebinding), a server started without --feedback."""

import asyncio
import contextlib
import sqlite3
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from rnnkit.data.store import QueryStore
from rnnkit.serve.app import MAX_BODY, allowed_hosts, create_app
from rnnkit.tasks.lm.routes import FEEDBACK_OFF

PICK = {"query": "eat in la", "completion": "eat in las vegas"}


@contextlib.contextmanager
def served(vegas_run, **options):
    with TestClient(create_app(vegas_run, **options), base_url="http://127.0.0.1") as client:
        yield client


def feedback_rows(store):
    with contextlib.closing(sqlite3.connect(store)) as db:
        return db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]


def test_feedback_is_off_unless_asked_for(vegas_run, tmp_path):
    with served(vegas_run) as client:
        answer = client.post("/feedback", json=PICK)
        assert answer.status_code == 403 and answer.json() == {"detail": FEEDBACK_OFF}
        assert "--feedback" in FEEDBACK_OFF
        assert client.get("/healthz").json()["feedback"] is False
        assert "/feedback" not in client.get("/openapi.json").json()["paths"]
    assert not (vegas_run / "queries.db").exists()  # nothing opened, nothing written
    with pytest.raises(ValueError, match="--store given without --feedback"):
        create_app(vegas_run, store=tmp_path / "q.db")


async def stream(app, chunks, size):
    """POST /feedback to ``app`` as ``chunks`` messages of ``size`` bytes, with no
    Content-Length, straight through ASGI: (the status, how many messages the app pulled)."""
    pulled, sent = 0, []

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b" " * size, "more_body": pulled < chunks}

    async def send(message):
        sent.append(message)

    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/feedback", "raw_path": b"/feedback",
             "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}  # fmt: skip
    await app(scope, receive, send)
    return sent[0]["status"], pulled


def test_bodies_over_the_limit_get_a_413_before_they_are_read(vegas_run, tmp_path):
    store = tmp_path / "q.db"
    with served(vegas_run, store=store, feedback=True) as client:
        big = b'{"query": "a", "completion": "' + b"x" * MAX_BODY + b'"}'
        json_type = {"content-type": "application/json"}
        assert client.post("/feedback", content=big, headers=json_type).status_code == 413
        status, pulled = asyncio.run(stream(client.app, chunks=1000, size=4096))
        assert status == 413 and pulled == MAX_BODY // 4096 + 1  # of 4 MB, the limit read
        # Every route, not only the ones that read a body:
        assert client.request("GET", "/", content=b"x" * (MAX_BODY + 1)).status_code == 413
        assert client.post("/feedback", json=PICK).status_code == 200  # under it: as before
    assert feedback_rows(store) == 1


def test_a_feedback_flood_gets_429s_past_the_rate_and_the_cap(vegas_run, tmp_path):
    store = tmp_path / "q.db"
    with served(vegas_run, store=store, feedback=True, feedback_rate=5) as client:
        answers = [client.post("/feedback", json=PICK) for _ in range(7)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
        assert "at most 5 writes a minute" in answers[-1].json()["detail"]
        assert client.get("/healthz").json()["feedback"]["rows"] == 5
    assert feedback_rows(store) == 5
    with served(vegas_run, store=store, feedback=True, feedback_cap=8) as client:
        answers = [client.post("/feedback", json=PICK) for _ in range(20)]
    assert [a.status_code for a in answers] == [200] * 8 + [429] * 12
    # No Retry-After: waiting does not help, only another server run.
    assert "retry-after" not in answers[-1].headers
    assert "at most 8 (1,048,576 bytes) a run" in answers[-1].json()["detail"]
    assert feedback_rows(store) == 5 + 8


def test_the_byte_cap_counts_utf8(vegas_run, tmp_path):
    options = {"store": tmp_path / "q.db", "feedback": True, "feedback_bytes": 100}
    with served(vegas_run, **options) as client:
        wide = {"query": "é" * 20, "completion": "é" * 20}  # 80 bytes
        assert client.post("/feedback", json=wide).status_code == 200
        assert client.post("/feedback", json=wide).status_code == 429


def test_a_locked_store_answers_503_at_once_and_the_page_is_not_held_up(vegas_run, tmp_path):
    store = QueryStore(tmp_path / "q.db")
    app = create_app(vegas_run, store=store.path, feedback=True, feedback_rate=100)

    async def flood():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            done = {}

            async def post(i):
                answer = await client.post("/feedback", json=PICK)
                done[f"feedback {i}"] = time.monotonic()
                return answer

            async def page():
                answer = await client.get("/")
                done["page"] = time.monotonic()
                return answer

            *answers, index = await asyncio.gather(*(post(i) for i in range(45)), page())
            return answers, index, done

    with contextlib.closing(sqlite3.connect(store.path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock throughout
        began = time.monotonic()
        answers, index, done = asyncio.run(flood())
        took = time.monotonic() - began
        other.execute("ROLLBACK")
    assert {a.status_code for a in answers} == {503}, {a.text for a in answers}
    assert all(a.headers["retry-after"] == "1" for a in answers)
    assert "busy" in answers[0].json()["detail"]
    assert index.status_code == 200
    assert done["page"] < max(done.values())  # not queued behind the waiting writes
    assert took < 25, took  # 45 waits of the old 30 s timeout would take minutes
    # Beyond the few writes allowed to wait their short busy timeout, every request is
    # turned away at once: 45 waits of 0.25 s one after another would take 11 s.
    quick = [i for i in range(45) if done[f"feedback {i}"] - began < 1.0]
    assert len(quick) >= 30, sorted(done[f"feedback {i}"] - began for i in range(45))
    assert feedback_rows(store.path) == 0


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8000", 200),
        ("localhost", 200),
        ("LOCALHOST:1234", 200),
        ("[::1]:8000", 200),
        ("attacker.example:8000", 400),
        ("127.0.0.1.attacker.example", 400),
        ("", 400),
    ],
)
def test_only_the_servers_own_host_names_are_answered(vegas_run, host, status):
    with TestClient(create_app(vegas_run, hosts=allowed_hosts("127.0.0.1"))) as client:
        assert client.get("/healthz", headers={"host": host}).status_code == status


def test_allowed_hosts_add_the_listening_host():
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost", "[::1]"]
    assert allowed_hosts("::1") == ["127.0.0.1", "localhost", "[::1]"]
    assert allowed_hosts("Box.Local", "fe80::1") == [
        "127.0.0.1", "localhost", "[::1]", "box.local", "[fe80::1]"
    ]  # fmt: skip
