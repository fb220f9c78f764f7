"""What a language-model run serves under ``rnnkit serve``: autocomplete.

    GET  /complete?q=TEXT&k=5&phrases=3&search=greedy&beam=5  suggestions for the text typed
         so far (`Completer`; ``rnnkit complete RUN TEXT --json`` prints the same, less "ms")
    POST /feedback {"query", "completion"} logs the completion a user accepted; only when
         served with ``feedback=True`` (``rnnkit serve RUN --feedback``), else a 403 that says so

Bad requests (an empty query, one over the length limit, k out of range, an unknown search, a
control character in feedback) get a 422 with ``{"detail": message}``. Concurrent /complete
requests are micro-batched through one forward pass (`rnnkit.serve.batching.MicroBatcher`).

Feedback is whatever anyone who reaches the server sends, so it is held in: at most
``feedback_rate`` a minute and ``feedback_cap`` rows (``feedback_bytes`` bytes) a server run
(over either: 429, with ``Retry-After`` when waiting helps); it goes to the ``feedback`` table
of a `QueryStore` (by default the SQLite store the run was trained from, else ``queries.db``
in the run directory), which training does not read until ``rnnkit ingest DB
--admit-feedback`` counts it. The writes run on a thread of their own (`rnnkit.serve.limits`);
a store locked by another writer answers 503 with ``Retry-After`` within `STORE_BUSY_S`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from rnnkit.data.registry import parse_source
from rnnkit.data.store import QueryStore, StoreBusy, checked_text
from rnnkit.serve.batching import MicroBatcher
from rnnkit.serve.limits import Budget, OverBudget, Writer, WriterBusy
from rnnkit.tasks.base import Section
from rnnkit.tasks.lm.engine import Request, completer
from rnnkit.tasks.lm.use import LoadedLM

STATIC = Path(__file__).parent / "static"
MAX_FEEDBACK_CHARS = 1000
FEEDBACK_RATE = 60  # feedback writes a minute, for the whole server
FEEDBACK_CAP = 1000  # feedback rows one server run may add
FEEDBACK_BYTES = 1 << 20  # and bytes (UTF-8, query and completion)
STORE_BUSY_S = 0.25  # how long a feedback write waits for another writer's lock
FEEDBACK_OFF = "feedback is off on this server; start it with rnnkit serve RUN --feedback"


class Feedback(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_FEEDBACK_CHARS, description="what was typed")
    completion: str = Field(
        min_length=1, max_length=MAX_FEEDBACK_CHARS, description="the whole text accepted"
    )

    @field_validator("query", "completion")
    @classmethod
    def typed_text(cls, value: str, info: Any) -> str:
        """Normalised; not empty, no control character (the store's own rules)."""
        return checked_text(value, info.field_name)


class Word(BaseModel):
    word: str = Field(description="the suggested word")
    text: str = Field(description="the whole query once the suggestion is accepted")
    probability: float = Field(description="given the words typed and the letters of the last")


class Phrase(BaseModel):
    text: str = Field(description="the whole query once the phrase is accepted")
    completion: str = Field(description="the words the phrase adds, the suggested one first")
    probability: float


class Completions(BaseModel):
    query: str
    words: list[Word] = Field(description="next-word suggestions, likeliest first")
    phrases: list[Phrase] = Field(description="the best suggestions, extended by the search")
    unknown: list[str] = Field(description="typed words the model does not know")
    ms: float = Field(description="time in the server, milliseconds")


def default_store(lm: LoadedLM) -> Path:
    """The SQLite store the run was trained from, else ``queries.db`` in the run directory.

    A relative store path is read from the current folder, as training read it; a store that
    is not there is an error (feedback must not go into a new, empty file unnoticed).
    """
    source = parse_source(lm.config.data.source)
    if source.form != "sqlite" or source.path is None:
        return lm.run_dir / "queries.db"
    path = source.path
    if not path.is_file():
        raise ValueError(
            f"{lm.run_dir} was trained from {source.text}, which is not at {path.resolve()}; "
            "run from the folder training ran in, or give the store with --store"
        )
    return path


def _or(value: int | None, default: int) -> int:
    """``value`` as given (0 included, for the checks to refuse), else ``default``."""
    return default if value is None else value


def autocomplete(
    lm: LoadedLM,
    *,
    store: str | Path | None = None,
    int8: bool = False,
    cache_size: int | None = None,
    max_batch: int | None = None,
    feedback: bool = False,
    feedback_rate: int | None = None,
    feedback_cap: int | None = None,
    feedback_bytes: int | None = None,
) -> Section:
    """The autocomplete routes and page section of ``lm`` (words for a word-level run, next
    tokens for a character or BPE run: `rnnkit.tasks.lm.engine.completer`). POST
    /feedback records only with ``feedback=True``, into ``store`` (see `default_store`), at
    most ``feedback_rate`` a minute (default `FEEDBACK_RATE`) and ``feedback_cap`` rows of
    ``feedback_bytes`` bytes in all (`FEEDBACK_CAP`, `FEEDBACK_BYTES`)."""
    limits = {"--feedback-rate": feedback_rate, "--feedback-cap": feedback_cap,
              "--feedback-bytes": feedback_bytes}  # fmt: skip
    given = [flag for flag, value in (*limits.items(), ("--store", store)) if value is not None]
    if given and not feedback:
        raise ValueError(f"{', '.join(given)} given without --feedback: add --feedback to take any")
    for flag, value in limits.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):  # fmt: skip
            raise ValueError(f"{flag} must be a positive int, got {value!r}")
    engine = completer(lm, int8=int8, cache_size=_or(cache_size, 4096))
    batcher: MicroBatcher[Request, dict] = MicroBatcher(engine.complete_batch, _or(max_batch, 32))
    router = APIRouter()
    if feedback:
        queries = QueryStore(store if store is not None else default_store(lm), STORE_BUSY_S)
        budget = Budget(_or(feedback_rate, FEEDBACK_RATE), _or(feedback_cap, FEEDBACK_CAP),
                        _or(feedback_bytes, FEEDBACK_BYTES))  # fmt: skip
        feedback_health, close_feedback = add_feedback(router, queries, budget)
    else:

        @router.post("/feedback", include_in_schema=False)
        async def no_feedback() -> JSONResponse:  # the body is never read
            return JSONResponse({"detail": FEEDBACK_OFF}, status_code=403)

        feedback_health, close_feedback = (lambda: False), (lambda: None)

    # The answer is built as plain data and sent as is: the models document it in /docs.
    @router.get("/complete", response_model=Completions)
    async def complete(
        q: str = Query("", description="the text typed so far"),
        k: int = Query(5, description="next-word suggestions wanted"),
        phrases: int = Query(3, description="phrase completions wanted (0 for none)"),
        search: str = Query("greedy", description="phrases by 'greedy' or 'beam' search"),
        beam: int = Query(5, description="the beam width of search=beam"),
    ) -> JSONResponse:
        start = time.perf_counter()
        try:
            request = engine.check(Request(q, k, phrases, search, beam))  # type: ignore[arg-type]
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        result = await batcher.submit(request)
        return JSONResponse(result | {"ms": round((time.perf_counter() - start) * 1e3, 3)})

    def health() -> dict[str, Any]:
        return {
            "vocab_size": lm.tokenizer.vocab_size,
            "feedback": feedback_health(),
            "batching": batcher.stats(),
        } | engine.stats()

    def close() -> None:
        batcher.close()
        close_feedback()

    return Section(
        router,
        title="autocomplete",
        page=STATIC / "autocomplete.html",
        script=STATIC / "autocomplete.js",
        health=health,
        close=close,
    )


def add_feedback(
    router: APIRouter, queries: QueryStore, budget: Budget
) -> tuple[Callable[[], dict[str, Any]], Callable[[], None]]:
    """POST /feedback on ``router``, into ``queries`` within ``budget``; returns what GET
    /healthz shows of it, and what stops its writer."""
    writer = Writer()

    @router.post("/feedback")
    async def feedback(item: Feedback) -> dict:
        size = len(item.query.encode()) + len(item.completion.encode())
        try:
            budget.take(size)
        except OverBudget as e:
            wait = {} if e.retry_after is None else {"Retry-After": str(e.retry_after)}
            raise HTTPException(status_code=429, detail=str(e), headers=wait) from None
        try:  # on the writer's thread: a locked store never holds up the event loop
            await writer.run(queries.record_feedback, item.query, item.completion)
        except (StoreBusy, WriterBusy):
            budget.give_back(size)
            detail = "the query store is busy; try again in a second"
            busy = HTTPException(status_code=503, detail=detail, headers={"Retry-After": "1"})
            raise busy from None
        return {"recorded": item.completion, "admitted": False}

    def health() -> dict[str, Any]:
        return {"store": str(queries.path), "waiting": writer.pending} | budget.stats()

    return health, writer.close
