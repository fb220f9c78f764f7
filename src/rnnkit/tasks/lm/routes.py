"""What a language-model run serves under ``rnnkit serve``: autocomplete.

    GET  /complete?q=TEXT&k=5&phrases=3&search=greedy&beam=5  suggestions for the text typed
         so far (`Completer`; ``rnnkit complete RUN TEXT --json`` prints the same, less "ms")
    POST /feedback {"query", "completion"} records the completion a user accepted in the store

Bad requests (an empty query, one over the length limit, k out of range, an unknown search)
get a 422 with ``{"detail": message}``. Concurrent /complete requests are micro-batched
through one forward pass (`rnnkit.serve.batching.MicroBatcher`). Feedback goes to a
`QueryStore`, by default the SQLite store the run was trained from, else ``queries.db`` in
the run directory, so the next ``rnnkit train lm --data sqlite:///...`` learns from what
users picked.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rnnkit.data.registry import parse_source
from rnnkit.data.store import QueryStore, sqlite_path
from rnnkit.serve.batching import MicroBatcher
from rnnkit.tasks.base import Section
from rnnkit.tasks.lm.engine import Completer, Request
from rnnkit.tasks.lm.use import LoadedLM

STATIC = Path(__file__).parent / "static"
MAX_FEEDBACK_CHARS = 1000


class Feedback(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_FEEDBACK_CHARS, description="what was typed")
    completion: str = Field(
        min_length=1, max_length=MAX_FEEDBACK_CHARS, description="the whole text accepted"
    )


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
    phrases: list[Phrase] = Field(description="the best suggestions, extended greedily")
    unknown: list[str] = Field(description="typed words the model does not know")
    ms: float = Field(description="time in the server, milliseconds")


def default_store(lm: LoadedLM) -> Path:
    """The SQLite store the run was trained from, else ``queries.db`` in the run directory.

    A relative store path is read from the current folder, as training read it; a store that
    is not there is an error (feedback must not go into a new, empty file unnoticed).
    """
    source = lm.config.data.source
    if parse_source(source).form != "sqlite":
        return lm.run_dir / "queries.db"
    path = sqlite_path(source)
    if not path.is_file():
        raise ValueError(
            f"{lm.run_dir} was trained from {source}, which is not at {path.resolve()}; "
            "run from the folder training ran in, or give the store with --store"
        )
    return path


def autocomplete(
    lm: LoadedLM,
    *,
    store: str | Path | None = None,
    int8: bool = False,
    cache_size: int | None = None,
    max_batch: int | None = None,
) -> Section:
    """The autocomplete routes and page section of the word-level model ``lm``."""
    completer = Completer(lm, int8=int8, cache_size=cache_size or 4096)
    queries = QueryStore(Path(store) if store is not None else default_store(lm))
    batcher: MicroBatcher[Request, dict] = MicroBatcher(completer.complete_batch, max_batch or 32)
    router = APIRouter()

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
            request = completer.check(Request(q, k, phrases, search, beam))  # type: ignore[arg-type]
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        result = await batcher.submit(request)
        return JSONResponse(result | {"ms": round((time.perf_counter() - start) * 1e3, 3)})

    @router.post("/feedback")
    def feedback(item: Feedback) -> dict:
        try:
            count = queries.record_feedback(item.query, item.completion)
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        return {"recorded": " ".join(item.completion.split()), "count": count}

    def health() -> dict[str, Any]:
        return {
            "vocab_size": lm.tokenizer.vocab_size,
            "store": str(queries.path),
            "batching": batcher.stats(),
        } | completer.stats()

    return Section(
        router,
        title="autocomplete",
        page=STATIC / "autocomplete.html",
        script=STATIC / "autocomplete.js",
        health=health,
        close=batcher.close,
    )
