"""What a speech run serves under ``rnnkit serve``: ``POST /transcribe``.

    POST /transcribe?beam=16&lm=true    body: the bytes of a WAV (or FLAC, OGG) file
      -> {"text": "three oh seven", "greedy": "three oh seven", "seconds": 1.52}

``beam`` and ``lm`` are optional (default the run's beam, with the language model). Audio
the run cannot take (not audio, empty, longer than ``data.max_seconds``) gets a 422 that says
why; a body over `MAX_BYTES` a 413.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from rnnkit.data.audio import decode_audio
from rnnkit.tasks.base import Section
from rnnkit.tasks.speech.use import LoadedRecognizer, transcribe

STATIC = Path(__file__).parent / "static"
MAX_BYTES, MAX_BEAM = 4 * 2**20, 64  # 4 MiB: two minutes of 16 kHz 16-bit mono WAV


def recognizer(run: LoadedRecognizer) -> Section:
    """The ``/transcribe`` route and page section of a speech run."""
    router = APIRouter()

    @router.post("/transcribe")
    async def transcription(
        request: Request,
        beam: int | None = Query(None, ge=1, le=MAX_BEAM, description="beam size"),
        lm: bool = Query(True, description="beam search with the word language model"),
    ) -> dict[str, Any]:
        body = await request.body()  # the app refuses more than MAX_BYTES with a 413
        try:  # in a worker thread: decoding must not hold up the event loop
            audio = decode_audio(body, "the upload", run.config.data.max_seconds)
            return (await run_in_threadpool(transcribe, run, [audio], beam=beam, lm=lm))[0]
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None

    def health() -> dict[str, Any]:
        return {"beam": run.config.model.beam, "language_model_words": len(run.lm.ids) - 2,
                "max_seconds": run.config.data.max_seconds}  # fmt: skip

    return Section(router, "speech recognizer", STATIC / "speech.html", STATIC / "speech.js",
                   health=health, max_body=MAX_BYTES)  # fmt: skip
