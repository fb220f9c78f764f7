"""``rnnkit serve RUN``: autocomplete over HTTP, with a web page.

    GET  /complete?q=TEXT&k=5&phrases=3  suggestions for the text typed so far (`Completer`)
    POST /feedback {"query", "completion"} records the completion a user accepted in the store
    GET  /healthz                          the model, the cache and the batching, as JSON
    GET  /                                 the search page; /docs is the OpenAPI page

Bad requests (an empty query, one over the length limit, k out of range, malformed JSON) get
a 422 with ``{"detail": message}``. Concurrent /complete requests are micro-batched through
one forward pass (`MicroBatcher`). Feedback goes to a `QueryStore`, by default the SQLite
store the run was trained from, else ``queries.db`` in the run directory, so the next
``rnnkit train lm --data sqlite:///...`` learns from what users picked.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import AsyncIterator, Sequence
from importlib.resources import files
from pathlib import Path

import torch
from fastapi import FastAPI, HTTPException, Query
from fastapi import Request as FastAPIRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from rnnkit.data.sources import SQLITE_SUFFIXES
from rnnkit.data.store import QueryStore, sqlite_path
from rnnkit.serve.batching import MicroBatcher
from rnnkit.serve.engine import Completer, Request
from rnnkit.tasks.textgen import LoadedLM, load_language_model

STATIC = Path(str(files("rnnkit.serve") / "static"))
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
    if not (source.startswith("sqlite:") or Path(source).suffix.lower() in SQLITE_SUFFIXES):
        return lm.run_dir / "queries.db"
    path = sqlite_path(source)
    if not path.is_file():
        raise ValueError(
            f"{lm.run_dir} was trained from {source}, which is not at {path.resolve()}; "
            "run from the folder training ran in, or give the store with --store"
        )
    return path


def create_app(
    run_dir: str | Path,
    *,
    store: str | Path | None = None,
    int8: bool = False,
    cache_size: int = 4096,
    max_batch: int = 32,
) -> FastAPI:
    """The FastAPI application serving the word-level language model in ``run_dir``."""
    lm = load_language_model(run_dir)
    completer = Completer(lm, int8=int8, cache_size=cache_size)
    queries = QueryStore(Path(store) if store is not None else default_store(lm))
    batcher: MicroBatcher[Request, dict] = MicroBatcher(completer.complete_batch, max_batch)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        batcher.close()

    app = FastAPI(
        lifespan=lifespan,
        title="rnnkit autocomplete",
        description=f"Next-word suggestions from the recurrent language model in {lm.run_dir}.",
    )

    # The answer is built as plain data and sent as is: the models document it in /docs.
    @app.get("/complete", response_model=Completions)
    async def complete(
        q: str = Query("", description="the text typed so far"),
        k: int = Query(5, description="next-word suggestions wanted"),
        phrases: int = Query(3, description="phrase completions wanted (0 for none)"),
    ) -> JSONResponse:
        start = time.perf_counter()
        try:
            request = completer.check(Request(q, k, phrases))
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        result = await batcher.submit(request)
        return JSONResponse(result | {"ms": round((time.perf_counter() - start) * 1e3, 3)})

    @app.post("/feedback")
    def feedback(item: Feedback) -> dict:
        try:
            count = queries.record_feedback(item.query, item.completion)
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        return {"recorded": " ".join(item.completion.split()), "count": count}

    @app.exception_handler(RequestValidationError)
    async def invalid(request: FastAPIRequest, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input back, and an input that cannot be encoded
        # (a lone surrogate escaped in JSON) would turn a 422 into a 500: messages only.
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                  for e in error.errors()]  # fmt: skip
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/healthz")
    async def healthz() -> dict:  # on the event loop, which is where the batcher counts
        m = lm.config.model
        return {
            "status": "ok",
            "run": str(lm.run_dir),
            "model": f"{m.num_layers}x{m.hidden_size} {m.kind}",
            "vocab_size": lm.tokenizer.vocab_size,
            "store": str(queries.path),
            "threads": torch.get_num_threads(),
            "batching": batcher.stats(),
        } | completer.stats()

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve(
    run_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 1,
    **options,
) -> None:
    """Run `create_app` under uvicorn until interrupted. ``threads``: torch's intra-op threads
    (one answers a keystroke fastest; more help only with big batches)."""
    import uvicorn

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    torch.set_num_threads(threads)
    app = create_app(run_dir, **options)  # a bad run fails here, before the port is taken
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        message = f"cannot listen on {host}:{port} ({e.strerror}); pick another --port"
        raise ValueError(message) from None
    print(f"rnnkit: serving {run_dir} on http://{host}:{port}/  (API docs: /docs)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])


__all__: Sequence[str] = ["Feedback", "create_app", "default_store", "serve"]
