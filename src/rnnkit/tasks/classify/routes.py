"""What a classify run serves under ``rnnkit serve``: ``POST /classify``.

    POST /classify {"inputs": ["a text", ...], "top": 3}
      -> {"results": [{"label", "probabilities": {label: p, ...}}, ...], "classes": [...]}

Text runs take strings; numeric runs take sequences, each a list of steps of ``input_size``
numbers. Inputs the model cannot read get a 422 that says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from rnnkit.tasks.base import Section
from rnnkit.tasks.classify.use import LoadedClassifier, classify

STATIC = Path(__file__).parent / "static"
MAX_INPUTS = 64


class Inputs(BaseModel):
    inputs: list[str] | list[list[list[float]]] = Field(
        min_length=1, max_length=MAX_INPUTS, description="texts, or sequences of steps"
    )
    top: int | None = Field(None, ge=1, description="only the k likeliest labels")


def classifier(clf: LoadedClassifier) -> Section:
    """The ``/classify`` route and page section of a classify run."""
    router = APIRouter()

    @router.post("/classify")
    def labels(body: Inputs) -> dict[str, Any]:
        try:
            results = classify(clf, list(body.inputs), top=body.top)
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        return {"results": results, "classes": clf.classes}

    def health() -> dict[str, Any]:
        return {"classes": clf.classes, "input_size": clf.input_size}  # None: texts

    return Section(router, "classifier", STATIC / "classify.html", STATIC / "classify.js",
                   health=health)  # fmt: skip
