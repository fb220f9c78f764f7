"""The baselines a classify run is scored beside, on the same test part as the network.

- ``majority class``: always the most frequent training class (ignores the input).
- ``TF-IDF + logistic regression`` (texts): scikit-learn's word 1-2-gram TF-IDF (sublinear
  term frequency, words seen at least twice) and a logistic regression whose C is picked
  from `C_GRID` by macro-F1 on the run's own validation part. It trains on the network's
  training part only.
- ``VADER`` (texts whose classes are sentiments): the lexicon and rules of Hutto & Gilbert
  (2014), package ``vaderSentiment``, untrained: compound score >= 0.05 is positive, <= -0.05
  negative, between neutral (the thresholds its authors give); with no neutral class, the
  sign decides (no sentiment at all: the most frequent training class).
- ``logistic regression on pixels`` (images): the flattened rows, standardized, C=0.1, at
  most `MAX_ITER` iterations of L-BFGS (seconds on 60,000 images).

Each baseline is a `ClassReport` under its name; `verdict` says in one line per baseline
whether the network beats it on macro-F1.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor

from rnnkit.tasks.classify.metrics import ClassReport, classification_report

__all__ = [
    "C_GRID",
    "image_baselines",
    "majority",
    "sentiment_ids",
    "text_baselines",
    "vader_labels",
    "verdict",
]

C_GRID = (0.3, 1.0, 3.0, 10.0)
POSITIVE, NEGATIVE, NEUTRAL = ("positive", "pos"), ("negative", "neg"), ("neutral",)
VADER_THRESHOLD = 0.05
MAX_ITER = 300


def majority(train: Tensor, test: Tensor, classes: list[str]) -> tuple[int, ClassReport]:
    """(class id, report) of always answering the most frequent training class."""
    most = int(np.bincount(train.numpy(), minlength=len(classes)).argmax())
    return most, classification_report(test.tolist(), [most] * len(test), classes)


def text_baselines(
    texts: dict[str, Sequence[str]], targets: dict[str, Tensor], classes: list[str]
) -> tuple[dict[str, ClassReport], list[str]]:
    """TF-IDF + logistic regression, and VADER when the classes are sentiments; ``texts``
    and ``targets`` hold the "train", "val" and "test" parts. Also the lines that say why a
    baseline is missing. The baselines read whole texts (the network its first
    ``data.max_length`` tokens)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    y = targets["train"].numpy()
    try:
        x = tfidf.fit_transform(texts["train"])
    except ValueError:  # no word seen twice: too little text for this baseline
        x = None
    if x is None or len(np.unique(y)) < 2:
        return _vader(texts["test"], targets, classes)
    val, test = tfidf.transform(texts["val"]), tfidf.transform(texts["test"])
    best = None
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000).fit(x, y)
        score = classification_report(targets["val"].tolist(), model.predict(val), classes)
        if best is None or score.macro_f1 > best[0]:
            best = (score.macro_f1, c, model)
    _, c, model = best
    tfidf_lr = f"TF-IDF + logistic regression (C={c:g})"
    report = classification_report(targets["test"].tolist(), model.predict(test), classes)
    found, notes = _vader(texts["test"], targets, classes)
    return {tfidf_lr: report} | found, notes


def _vader(
    texts: Sequence[str], targets: dict[str, Tensor], classes: list[str]
) -> tuple[dict[str, ClassReport], list[str]]:
    if sentiment_ids(classes) is None:
        return {}, []
    if importlib.util.find_spec("vaderSentiment") is None:
        return {}, ["VADER skipped: pip install vaderSentiment to score it"]
    fallback = int(np.bincount(targets["train"].numpy(), minlength=len(classes)).argmax())
    predicted = vader_labels(texts, classes, fallback)
    return {"VADER": classification_report(targets["test"].tolist(), predicted, classes)}, []


def sentiment_ids(classes: list[str]) -> dict[int, int] | None:
    """{-1: negative's id, 1: positive's, 0: neutral's when there is one}, or None when the
    classes are not sentiments."""
    ids = {}
    for group, sign in ((NEGATIVE, -1), (NEUTRAL, 0), (POSITIVE, 1)):
        found = [i for i, name in enumerate(classes) if name.casefold() in group]
        if found:
            ids[sign] = found[0]
    if len(ids) != len(classes) or -1 not in ids or 1 not in ids:
        return None
    return ids


def vader_labels(texts: Sequence[str], classes: list[str], fallback: int) -> list[int]:
    """VADER's class id for each text (classes must be sentiments, `sentiment_ids`). Two
    classes: the sign of the compound score decides, and a text with no sentiment at all
    (compound 0) gets ``fallback``, the most frequent training class."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    ids = sentiment_ids(classes)
    if ids is None:
        raise ValueError(f"VADER needs sentiment classes, got {', '.join(classes)}")
    analyser = SentimentIntensityAnalyzer()
    out = []
    for text in texts:
        compound = analyser.polarity_scores(text)["compound"]
        if 0 not in ids:  # two classes
            out.append(fallback if compound == 0 else ids[1] if compound > 0 else ids[-1])
        elif abs(compound) < VADER_THRESHOLD:
            out.append(ids[0])
        else:
            out.append(ids[1] if compound > 0 else ids[-1])
    return out


def image_baselines(
    inputs: dict[str, Tensor], targets: dict[str, Tensor], classes: list[str]
) -> dict[str, ClassReport]:
    """Logistic regression on the standardized flattened pixels, trained on the training
    part (images of one size only: an empty dict otherwise)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    flat = {part: x.flatten(1).numpy() for part, x in inputs.items()}
    if len({x.shape[1] for x in flat.values()}) != 1:
        return {}
    scaler = StandardScaler().fit(flat["train"])
    model = LogisticRegression(C=0.1, max_iter=MAX_ITER)
    with warnings.catch_warnings():  # on 60,000 images it stops at MAX_ITER, as intended
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaler.transform(flat["train"]), targets["train"].numpy())
    predicted = model.predict(scaler.transform(flat["test"]))
    return {"logistic regression on pixels": classification_report(
        targets["test"].tolist(), predicted, classes)}  # fmt: skip


def verdict(network: ClassReport, baselines: dict[str, ClassReport]) -> str:
    """A line per baseline: its accuracy and macro-F1, and whether the network beats it."""
    lines = []
    for name, report in baselines.items():
        gap = 100 * (network.macro_f1 - report.macro_f1)
        said = (f"the network is {gap:.1f} points above" if gap > 0 else
                f"the network does NOT beat it ({-gap:.1f} points below)" if gap < 0 else
                "the network ties it")  # fmt: skip
        lines.append(f"{name}: accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f} "
                     f"on the same test part; {said} in macro-F1")  # fmt: skip
    return "\n".join(lines)


def to_dict(baselines: dict[str, ClassReport]) -> dict[str, Any]:
    """The baselines' accuracy and macro-F1, by name, for results.json."""
    return {name: {"accuracy": r.accuracy, "macro_f1": r.macro_f1} for name, r in baselines.items()}
