"""``rnnkit serve RUN``: one HTTP app for a run of any task, with a web page.

    GET  /healthz   the run, its model, and what the task adds (cache, batching, ...), as JSON
    GET  /          the web page: a shell whose section comes from the task
    GET  /docs      the OpenAPI page of every route
    ...             the task's own routes (`rnnkit.tasks.base.Task.serve`): ``/complete`` and
                    ``/feedback`` for a language model, ``/classify``, ``/forecast``, ...

Malformed requests get a 422 with ``{"detail": ...}`` and never echo the input back.
"""

from __future__ import annotations

import contextlib
import html
import socket
from collections.abc import AsyncIterator, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI
from fastapi import Request as FastAPIRequest
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from rnnkit.tasks.base import Loaded
from rnnkit.tasks.runner import load_run

STATIC = Path(str(files("rnnkit.serve") / "static"))


def describe_model(loaded: Loaded) -> str:
    """``"2x256 lstm"``: the recurrent stack of a run's model."""
    m = loaded.config.model
    return f"{m.num_layers}x{m.hidden_size} {m.kind}"


def create_app(run_dir: str | Path, **options: Any) -> FastAPI:
    """The FastAPI application serving the run in ``run_dir``; ``options`` go to its task's
    ``serve`` (for a language model: ``store``, ``int8``, ``cache_size``, ``max_batch``)."""
    loaded = load_run(run_dir)
    section = loaded.task.serve(loaded, **options)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        section.close()

    app = FastAPI(
        lifespan=lifespan,
        title=f"rnnkit {section.title}",
        description=f"The {loaded.task.name} run in {loaded.run_dir}: {loaded.task.summary}.",
    )
    app.include_router(section.router)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: FastAPIRequest, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input back, and an input that cannot be encoded
        # (a lone surrogate escaped in JSON) would turn a 422 into a 500: messages only.
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                  for e in error.errors()]  # fmt: skip
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/healthz")
    async def healthz() -> dict:  # on the event loop, where a task's batcher counts
        return {
            "status": "ok",
            "task": loaded.task.name,
            "run": str(loaded.run_dir),
            "model": describe_model(loaded),
            "threads": torch.get_num_threads(),
        } | section.health()

    page = (STATIC / "index.html").read_text(encoding="utf-8")
    fragment = section.page.read_text(encoding="utf-8") if section.page else ""
    page = page.replace("{title}", html.escape(section.title)).replace("{section}", fragment)

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/section.js", include_in_schema=False)
    def script() -> Response:
        if section.script is None:
            return Response("", media_type="text/javascript")
        return FileResponse(section.script, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def serve(
    run_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 1,
    **options: Any,
) -> None:
    """Run `create_app` under uvicorn until interrupted. ``threads``: torch's intra-op threads
    (one answers a keystroke fastest; more help only with big batches)."""
    import uvicorn

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {port}")
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


__all__: Sequence[str] = ["create_app", "describe_model", "serve"]
