"""What a caption run serves under ``rnnkit serve``: ``POST /caption``.

    POST /caption?beam=3&attention=true    body: the bytes of an image (PNG, JPEG, ...)
      -> {"caption": "forty two", "words": ["forty", "two", "<eos>"],
          "attention": [[[...]]] or null, "grid": [4, 8], "image_size": [64, 128]}

``beam`` is optional (default the run's ``model.beam``; 1 is greedy). ``attention`` (on by
default) adds, for each word and the end, the (h, w) weights over the image's grid; null
for a run trained without attention. A body that is not an image gets a 422 that says
why, a body over `MAX_BYTES` a 413.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from rnnkit.tasks.base import Section
from rnnkit.tasks.caption.use import LoadedCaptioner, caption, read_run_image

STATIC = Path(__file__).parent / "static"
MAX_BYTES, MAX_BEAM = 8 * 2**20, 16  # 8 MiB: a phone photo


def captioner(run: LoadedCaptioner) -> Section:
    """The ``/caption`` route and page section of a caption run."""
    router = APIRouter()
    grid = list(run.model.grid(*run.image_size))

    def answer(body: bytes, beam: int | None, attention: bool) -> dict[str, Any]:
        image = read_run_image(run, body, "the upload")
        found = caption(run, [image], beam=beam, attention=attention)[0]
        return {"words": None, "attention": None, **found, "grid": grid,
                "image_size": list(run.image_size)}  # fmt: skip

    @router.post("/caption")
    async def captioned(
        request: Request,
        beam: int | None = Query(None, ge=1, le=MAX_BEAM, description="beam size; 1: greedy"),
        attention: bool = Query(True, description="where each word looked"),
    ) -> dict[str, Any]:
        body = await request.body()  # the app refuses more than MAX_BYTES with a 413
        if not body:
            raise HTTPException(status_code=422, detail="the upload is empty: send an image")
        try:  # in a worker thread: decoding and the model must not hold up the event loop
            return await run_in_threadpool(answer, body, beam, attention)
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None

    source = Path(str(run.artefacts["data.json"].get("source", ""))).name  # not the server's path

    def health() -> dict[str, Any]:
        return {"beam": run.config.model.beam, "attention": run.config.model.attention,
                "image_size": list(run.image_size), "mode": run.mode, "grid": grid,
                "source": source}  # fmt: skip

    return Section(router, "image captioner", STATIC / "caption.html", STATIC / "caption.js",
                   health=health, max_body=MAX_BYTES)  # fmt: skip
