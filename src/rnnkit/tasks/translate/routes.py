"""What a translate run serves under ``rnnkit serve``: ``POST /translate``.

    POST /translate {"inputs": ["Impossible d'ouvrir le fichier", ...], "beam": 5}
      -> {"translations": ["Cannot open the file", ...], "direction": "fr -> en"}

``beam`` is optional (default the run's ``model.beam``; 1 is greedy decoding). Inputs the run
cannot take (empty texts, too many, a beam out of range) get a 422 that says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from rnnkit.tasks.base import Section
from rnnkit.tasks.translate.use import LoadedTranslator, translate

STATIC = Path(__file__).parent / "static"
MAX_INPUTS, MAX_CHARS, MAX_BEAM = 32, 500, 16


class Inputs(BaseModel):
    inputs: list[str] = Field(min_length=1, max_length=MAX_INPUTS, description="sentences")
    beam: int | None = Field(None, ge=1, le=MAX_BEAM, description="beam size; 1: greedy")


def translator(run: LoadedTranslator) -> Section:
    """The ``/translate`` route and page section of a translate run."""
    router = APIRouter()
    direction = run.artefacts["data.json"].get("direction", "")

    @router.post("/translate")
    def translations(body: Inputs) -> dict[str, Any]:
        if any(len(text) > MAX_CHARS for text in body.inputs):
            raise HTTPException(status_code=422, detail=f"a text is longer than {MAX_CHARS} "
                                "characters; translate one sentence at a time")  # fmt: skip
        try:
            return {"translations": translate(run, body.inputs, beam=body.beam),
                    "direction": direction}  # fmt: skip
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None

    def health() -> dict[str, Any]:
        return {"direction": direction, "beam": run.config.model.beam}

    return Section(router, "translator", STATIC / "translate.html", STATIC / "translate.js",
                   health=health)  # fmt: skip
