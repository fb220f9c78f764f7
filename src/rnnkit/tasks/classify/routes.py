"""What a classify run serves under ``rnnkit serve``: ``POST /classify``.

    POST /classify {"inputs": ["a text", ...], "top": 3, "explain": false}
      -> {"results": [{"label", "probabilities": {label: p, ...}}, ...], "classes": [...]}

Text runs take strings; numeric runs take sequences, each a list of steps of ``input_size``
numbers. Inputs the model cannot read get a 422 that says why.

With ``"explain": true`` (a text run trained with ``model.pooling=attention``) each result
also has ``"weights": [[token, weight], ...]``: every token the network read, in order, and
the weight attention pooling gave it, summing to 1 (`rnnkit.tasks.classify.use.classify`).
Another run answers a 422 that says why. ``GET /healthz`` adds ``"classes"``,
``"input_size"`` (None for texts), ``"level"`` (the tokenizer: word, char or bpe; None for
numbers) and ``"explain"`` (whether the run can explain), which the page reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from rnnkit.tasks.base import Section
from rnnkit.tasks.classify.use import LoadedClassifier, classify, explains

STATIC = Path(__file__).parent / "static"
MAX_INPUTS = 64


class Inputs(BaseModel):
    inputs: list[str] | list[list[list[float]]] = Field(
        min_length=1, max_length=MAX_INPUTS, description="texts, or sequences of steps"
    )
    top: int | None = Field(None, ge=1, description="only the k likeliest labels")
    explain: bool = Field(False, description="each token's attention weight (texts only)")


def classifier(clf: LoadedClassifier) -> Section:
    """The ``/classify`` route and page section of a classify run."""
    router = APIRouter()

    @router.post("/classify")
    def labels(body: Inputs) -> dict[str, Any]:
        try:
            results = classify(clf, list(body.inputs), top=body.top, explain=body.explain)
        except ValueError as e:
            raise HTTPException(status_code=422, detail=str(e)) from None
        return {"results": results, "classes": clf.classes}

    level = clf.tokenizer.kind if clf.tokenizer is not None else None
    can_explain = explains(clf) is None

    def health() -> dict[str, Any]:
        return {"classes": clf.classes, "input_size": clf.input_size,  # None: texts
                "level": level, "explain": can_explain}  # fmt: skip

    return Section(router, "classifier", STATIC / "classify.html", STATIC / "classify.js",
                   health=health)  # fmt: skip
