"""Classification metrics: a per-class report and the confusion-matrix plot.

`classification_report(y_true, y_pred, classes)` -> `ClassReport`, computed by scikit-learn;
`plot_confusion(report, path)` writes it as a PNG. Shapes: N samples, C classes.

scikit-learn and matplotlib are imported when first used: a task that imports this module
to train does not pay for them until it scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.io import atomic_path

NUMBERED_CLASSES = 20  # beyond this many classes the plot omits the counts in the cells
NAMED_CLASSES = 50  # and beyond this many, the class names on the axes


@dataclass(frozen=True)
class ClassReport:
    """How well predicted class ids match the true ones.

    accuracy: fraction of the N samples predicted right.
    macro_f1: the unweighted mean of the per-class F1 over the classes that occur in y_true
        or y_pred (scikit-learn's ``average="macro"``): a class the data never holds and the
        model never predicts says nothing about the model, so it does not pull the mean down.
    precision, recall, f1, support: per class, in class order; 0 where undefined (a class
        never predicted has precision 0, a class never true has recall 0).
    confusion: C x C counts, ``confusion[true][predicted]``; absent classes get a zero row.
    classes: the C class names.
    """

    accuracy: float
    macro_f1: float
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    confusion: list[list[int]]
    classes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain floats, ints, strings and lists: ready for `json.dumps`."""
        return asdict(self)

    def format(self) -> str:
        """A table of per-class precision, recall, F1 and support, then accuracy and macro-F1."""
        width = max(len("macro-F1"), *(len(name) for name in self.classes))
        lines = [f"{'class':<{width}}  precision  recall      f1  support"]
        for name, p, r, f, s in zip(
            self.classes, self.precision, self.recall, self.f1, self.support, strict=True
        ):
            lines.append(f"{name:<{width}}  {p:9.3f}  {r:6.3f}  {f:6.3f}  {s:7d}")
        total = sum(self.support)
        lines.append("")
        lines.append(f"{'accuracy':<{width}}  {'':9}  {'':6}  {self.accuracy:6.3f}  {total:7d}")
        lines.append(f"{'macro-F1':<{width}}  {'':9}  {'':6}  {self.macro_f1:6.3f}  {total:7d}")
        return "\n".join(lines)


def _class_ids(name: str, values: Any, num_classes: int) -> np.ndarray:
    """A 1-D int64 array of ids in [0, C) from a list, NumPy array or tensor, checked."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    ids = np.asarray(values)
    if ids.ndim != 1 or ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
        if ids.size == 0 and ids.ndim == 1:  # [] arrives as float64
            ids = ids.astype(np.int64)
        else:
            raise ValueError(
                f"{name} must be a 1-D sequence of int class ids, got {ids.dtype} of shape "
                f"{ids.shape} (take the argmax of scores or probabilities first)"
            )
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(
            f"{name} must hold class ids in [0, {num_classes}), one per class name, "
            f"got values from {ids.min()} to {ids.max()}"
        )
    return ids.astype(np.int64)


def _check_classes(classes: Sequence[str]) -> list[str]:
    if isinstance(classes, str) or not all(isinstance(name, str) for name in classes):
        raise ValueError(f"classes must be a sequence of class names, got {classes!r}")
    names = list(classes)
    if not names:
        raise ValueError("classes must name at least one class, got none")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"classes must be distinct names, got {', '.join(repeated)} twice")
    return names


def classification_report(y_true: Any, y_pred: Any, classes: Sequence[str]) -> ClassReport:
    """Score predicted class ids against the true ones.

    Args:
        y_true, y_pred: N class ids in [0, C) each: lists, NumPy arrays or tensors.
        classes: the C class names; id c names ``classes[c]``.

    Raises ValueError when the lengths differ, N is 0, an id is out of range, or the class
    names are empty or repeated.
    """
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    names = _check_classes(classes)
    C = len(names)
    true, pred = _class_ids("y_true", y_true, C), _class_ids("y_pred", y_pred, C)
    if len(true) != len(pred):
        raise ValueError(
            f"y_true and y_pred must hold one id per sample each, got {len(true)} and {len(pred)}"
        )
    if len(true) == 0:
        raise ValueError("y_true and y_pred are empty: there is nothing to score")
    labels = list(range(C))  # every class gets its entry, present in the data or not
    precision, recall, f1, support = precision_recall_fscore_support(
        true, pred, labels=labels, zero_division=0
    )
    return ClassReport(
        accuracy=float(np.mean(true == pred)),
        macro_f1=float(f1_score(true, pred, average="macro", zero_division=0)),
        precision=[float(v) for v in precision],
        recall=[float(v) for v in recall],
        f1=[float(v) for v in f1],
        support=[int(v) for v in support],
        confusion=confusion_matrix(true, pred, labels=labels).tolist(),
        classes=names,
    )


def plot_confusion(
    report: ClassReport, path: str | Path, title: str | None = None, normalize: bool = True
) -> Path:
    """Write ``report``'s confusion matrix to ``path`` as a PNG, atomically; returns the path.

    Rows are true classes, columns predicted ones, and each cell shows its count (up to
    `NUMBERED_CLASSES` classes). ``normalize`` (default True) shades each cell by its share
    of the true class's samples, so a rare class's row is as readable as a common one's;
    False shades by the raw counts. The title adds accuracy and macro-F1 to ``title``.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    counts = np.asarray(report.confusion, dtype=np.int64)  # (C, C)
    C = len(report.classes)
    if normalize:
        rows = counts.sum(axis=1, keepdims=True)
        shade = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
        top, label = 1.0, "fraction of the true class"
    else:
        shade, top, label = counts.astype(float), max(int(counts.max()), 1), "samples"
    side = min(3.0 + 0.45 * C, 14.0)  # inches: about half an inch a class, within bounds
    fig = Figure(figsize=(side + 1.2, side), dpi=100)
    ax = fig.add_subplot()
    image = ax.imshow(shade, cmap="Blues", vmin=0.0, vmax=top)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=label)
    if C <= NUMBERED_CLASSES:
        for (t, p), count in np.ndenumerate(counts):
            color = "white" if shade[t, p] > 0.6 * top else "black"
            ax.text(p, t, str(count), ha="center", va="center", color=color, fontsize=9)
    if C <= NAMED_CLASSES:
        long_names = max(len(name) for name in report.classes) > 3
        ax.set_xticks(
            range(C),
            report.classes,
            rotation=45 if long_names else 0,
            ha="right" if long_names else "center",
        )
        ax.set_yticks(range(C), report.classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    scores = f"accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}"
    ax.set_title(scores if title is None else f"{title}\n{scores}")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
