"""The HTTP service: suggestions, feedback into the store, clear 4xx errors, micro-batching.
What a hostile client tries (limits, locks, Host headers) is in test_hostile."""

import asyncio
import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from net import rnnkit_serve
from rnnkit.cli import main
from rnnkit.data.store import QueryStore
from rnnkit.serve.app import create_app
from rnnkit.tasks.lm.routes import default_store
from rnnkit.tasks.runner import load_run

QUERY = "what is the best food to eat in las"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("store") / "queries.db"


@pytest.fixture(scope="module")
def app(vegas_run, store):
    return create_app(vegas_run, store=store, feedback=True, feedback_rate=10**4)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as client:
        yield client


def test_complete_suggests_the_next_word(client):
    response = client.get("/complete", params={"q": QUERY, "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["words"][0]["word"] == "vegas" and body["words"][0]["text"] == QUERY + " vegas"
    assert len(body["words"]) == 3 and len(body["phrases"]) == 3
    assert body["ms"] > 0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "empty"),
        ({"q": "   "}, "empty"),
        ({"q": "las " * 200}, "the limit is 500"),
        ({"q": "las", "k": 0}, "k must be an int in"),
        ({"q": "las", "k": 1000}, "k must be an int in"),
        ({"q": "las", "phrases": -1}, "phrases must be an int in"),
        ({"q": "las", "k": "five"}, "integer"),
    ],
)
def test_bad_queries_get_a_422_that_says_why(client, params, message):
    response = client.get("/complete", params=params)
    assert response.status_code == 422
    assert message in str(response.json()["detail"])


def test_feedback_is_recorded_apart_until_admitted(client, store):
    picked = {"query": "eat in la", "completion": "eat in  las vegas "}
    first = client.post("/feedback", json=picked)
    second = client.post("/feedback", json=picked)
    assert first.status_code == second.status_code == 200
    assert first.json() == {"recorded": "eat in las vegas", "admitted": False}
    with contextlib.closing(sqlite3.connect(store)) as db:
        logged = db.execute("SELECT query, completion FROM feedback").fetchall()
        counted = db.execute("SELECT text FROM queries").fetchall()
    assert logged.count(("eat in la", "eat in las vegas")) == 2 and counted == []
    assert QueryStore(store).admit_feedback()[0] >= 2
    assert ("eat in las vegas", 2) in QueryStore(store).top()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"query": "las"}',
        b'{"query": "", "completion": "las vegas"}',
        b'{"query": "las", "completion": "' + b"x" * 1001 + b'"}',
        b'["las", "las vegas"]',
        b'{"query": "a", "completion": "\\ud800"}',
        b'{"query": "a\\u0000", "completion": "a b"}',
        b'{"query": "a", "completion": "\\u001b[2Ja b"}',
    ],
    ids=["malformed", "missing", "empty", "too-long", "not-an-object", "lone-surrogate", "nul",
         "escape"],
)  # fmt: skip
def test_bad_feedback_gets_a_422(client, body):
    response = client.post("/feedback", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


def test_health_page_and_openapi(client, vegas_run):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["run"] == str(vegas_run)
    assert health["cache"]["entries"] > 0 and health["batching"]["requests"] > 0
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/complete", "/feedback", "/healthz"} <= set(paths)


def test_concurrent_requests_share_forward_passes(app, vegas_run):
    queries = ["we flew to ", "the lights of", QUERY, "is it hot in", "my uncle mo"] * 4

    async def ask_all():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = await asyncio.gather(
                *(client.get("/complete", params={"q": q, "k": 2}) for q in queries)
            )
            return answers, (await client.get("/healthz")).json()

    answers, health = asyncio.run(ask_all())
    assert all(a.status_code == 200 for a in answers)
    assert [a.json()["query"] for a in answers] == queries  # each got its own answer
    assert answers[2].json()["words"][0]["word"] == "vegas"
    assert health["batching"]["largest_batch"] > 1


def test_default_store_is_the_training_store_or_the_run_directory(vegas_run, tmp_path):
    lm = load_run(vegas_run)
    assert default_store(lm) == vegas_run / "queries.db"
    store = tmp_path / "queries.db"
    for source in (f"sqlite:///{store}", str(store)):
        lm.config.data.source = source
        with pytest.raises(ValueError, match="give the store with --store"):
            default_store(lm)  # not there: an error, never a new empty store
        QueryStore(store)
        assert default_store(lm) == store
        store.unlink()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    q=st.text(max_size=600),
    k=st.one_of(st.integers(-5, 60), st.text(max_size=3)),
    body=st.one_of(
        st.binary(max_size=60),
        st.fixed_dictionaries(
            {"query": st.text(max_size=30), "completion": st.text(max_size=30)}
        ).map(lambda d: json.dumps(d).encode()),
    ),
)
def test_no_request_gets_a_server_error(client, q, k, body):
    answer = client.get("/complete", params={"q": q, "k": k})
    assert answer.status_code in (200, 422), answer.text
    headers = {"content-type": "application/json"}
    feedback = client.post("/feedback", content=body, headers=headers)
    assert feedback.status_code == 200 or 400 <= feedback.status_code < 500, feedback.text
    assert "detail" in feedback.json() or feedback.status_code == 200


def test_rnnkit_serve_answers_over_http_and_stops_cleanly(vegas_run, tmp_path):
    server, url = rnnkit_serve(vegas_run, "--feedback", "--store", tmp_path / "q.db")
    try:
        answer = httpx.get(url + "/complete", params={"q": QUERY}).json()
        assert answer["words"][0]["word"] == "vegas"
        # A second server on the same port is a one-line error, not a traceback.
        rnnkit = Path(sys.executable).parent / "rnnkit"
        command = [rnnkit, "serve", vegas_run, "--port", url.rsplit(":", 1)[1]]
        second = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert second.stderr.strip().startswith("rnnkit: error: cannot listen on")
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    # Ctrl-C: uvicorn finishes its requests and closes, then rnnkit exits as interrupted.
    assert server.returncode == 130 and err.strip() == "rnnkit: interrupted", err
    assert "serving" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "no/such/run"], "no/such/run"),
        (["serve", "RUN", "--threads", "0"], "threads must be a positive int"),
        (["serve", "RUN", "--port", "70000"], "--port must be an int from 0 to 65535, got 70000"),
        (["serve", "RUN", "--port", "-1"], "--port must be an int from 0 to 65535, got -1"),
        (["serve", "RUN", "--feedback-cap", "5"], "--feedback-cap given without --feedback"),
        (["serve", "RUN", "--feedback", "--feedback-rate", "0"], "--feedback-rate must be a"),
    ],
)
def test_serve_bad_use_is_one_line(vegas_run, capsys, argv, message):
    argv = [str(vegas_run) if a == "RUN" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error:") and message in err and len(err.splitlines()) == 1
