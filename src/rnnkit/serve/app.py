"""``rnnkit serve RUN``: one HTTP app for a run of any task, with a web page.

    GET  /healthz   the run, its model, and what the task adds (cache, batching, ...), as JSON
    GET  /          the web page: a shell whose section comes from the task
    GET  /docs      the OpenAPI page of every route
    ...             the task's own routes (`rnnkit.tasks.base.Task.serve`): ``/complete`` and
                    ``/feedback`` for a language model, ``/classify``, ``/forecast``, ...

Malformed requests get a 422 with ``{"detail": ...}`` and never echo the input back. On every
route a request body over ``max_body`` bytes (default `MAX_BODY`) gets a 413: a Content-Length
over it is refused before any byte is read, and a body without one is counted as it arrives
and cut off there (FastAPI's ``max_body_size``). `serve` answers only requests whose ``Host``
header names the server (`allowed_hosts`; others get a 400): a web page whose DNS name is
made to point at 127.0.0.1 (DNS rebinding) cannot use the server from a browser.
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
from starlette.middleware.trustedhost import TrustedHostMiddleware

from rnnkit.config import RecurrentConfig
from rnnkit.tasks.base import Loaded
from rnnkit.tasks.runner import load_run

STATIC = Path(str(files("rnnkit.serve") / "static"))
MAX_BODY = 64 * 1024  # bytes in a request body: a feedback is 2 x 1,000 characters at most
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def allowed_hosts(host: str, *more: str) -> list[str]:
    """The ``Host`` names a server listening on ``host`` answers: the loopback names,
    ``host`` itself (an IPv6 address in brackets) and ``more``; any port goes with each."""
    names = [f"[{name}]" if ":" in name and not name.startswith("[") else name
             for name in (host, *more)]  # fmt: skip
    return list(dict.fromkeys(name.lower() for name in (*LOOPBACK, *names)))


def describe_model(loaded: Loaded) -> str:
    """``"2x256 lstm"``: the recurrent stack of a run's model (``"3 x 1x128 gru"`` for an
    ensemble of three)."""
    m = getattr(loaded.config, "model", None)
    if not isinstance(m, RecurrentConfig):  # a task whose model has no recurrent section
        return type(loaded.model).__name__
    members = getattr(m, "ensemble", 1)
    return f"{members} x " * (members > 1) + f"{m.num_layers}x{m.hidden_size} {m.kind}"


def create_app(
    run_dir: str | Path,
    *,
    hosts: Sequence[str] | None = None,
    max_body: int | None = None,
    **options: Any,
) -> FastAPI:
    """The FastAPI application serving the run in ``run_dir``; ``options`` go to its task's
    ``serve`` (for a language model: ``feedback``, ``store``, ``int8``, ``cache_size``, ...).

    ``hosts``: the ``Host`` names answered (`allowed_hosts`; others get a 400); None answers
    any, for an app behind a proxy that checks them, or in a test client. ``max_body``: the
    most bytes a request body may have (413 over it); None is `MAX_BODY`, or more where the
    task's section asks for it (``Section.max_body``: an audio upload)."""
    if max_body is not None and (isinstance(max_body, bool) or not isinstance(max_body, int)
                                 or max_body < 0):  # fmt: skip
        raise ValueError(f"max_body must be a number of bytes (an int >= 0), got {max_body!r}")
    loaded = load_run(run_dir)
    section = loaded.task.serve(loaded, **options)
    if max_body is None:
        max_body = max(MAX_BODY, section.max_body or 0)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        section.close()

    app = FastAPI(
        lifespan=lifespan,
        title=f"rnnkit {section.title}",
        description=f"The {loaded.task.name} run in {loaded.run_dir}: {loaded.task.summary}.",
        max_body_size=max_body,
    )
    if hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts), www_redirect=False)
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

    # Async, as every route here: sync ones share one thread pool, which slow writes could fill.
    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/section.js", include_in_schema=False)
    async def script() -> Response:
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
    more_hosts: Sequence[str] = (),
    **options: Any,
) -> None:
    """Run `create_app` under uvicorn until interrupted, answering the ``Host`` names of
    `allowed_hosts` (``host``, the loopback names and ``more_hosts``). ``threads``: torch's
    intra-op threads (one answers a keystroke fastest; more help only with big batches)."""
    import uvicorn

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--port must be an int from 0 to 65535, got {port!r}")
    torch.set_num_threads(threads)
    hosts = allowed_hosts(host, *more_hosts)
    app = create_app(run_dir, hosts=hosts, **options)  # a bad run fails here, before the bind
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


__all__: Sequence[str] = ["MAX_BODY", "allowed_hosts", "create_app", "describe_model", "serve"]
