"""Using a trained classifier: ``rnnkit classify`` and ``rnnkit evaluate``.

    clf = load_run("runs/sentiment")   # rnnkit.tasks.runner.load_run
    classify(clf, ["a moving, beautifully acted film"])
    # [{"label": "pos", "probabilities": {"pos": 0.93, "neg": 0.07}}]
    classify(clf, ["a moving, beautifully acted film"], explain=True)  # pooling="attention"
    # [{"label": "pos", "probabilities": {...},
    #   "weights": [["a", 0.02], ["moving", 0.41], [",", 0.01], ...]}]  # sum to 1
    evaluate_run("runs/sentiment", "reviews_2025.csv", out="runs/sentiment/eval")

A run is loaded from its own files (``config.json``, ``classes.json``, ``vocab.json`` for
texts, ``model.safetensors``); the training data need not be there any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.data import labeled
from rnnkit.data.registry import parse_source
from rnnkit.data.tokenizers import UNK, BPETokenizer, Tokenizer, tokenizer_from_dict
from rnnkit.io import atomic_write_json
from rnnkit.models import SequenceClassifier
from rnnkit.models.common import evaluating
from rnnkit.tasks.base import Loaded
from rnnkit.tasks.classify.metrics import ClassReport, plot_confusion
from rnnkit.tasks.classify.task import (
    CLASSES_FILE,
    VOCAB_FILE,
    DataConfig,
    encode_texts,
    pad,
    predict,
    read_source,
    read_table,
    scores,
)
from rnnkit.tasks.runner import load_run_of


@dataclass
class LoadedClassifier(Loaded):
    """A classify run (`rnnkit.tasks.runner.load_run`)."""

    model: SequenceClassifier
    tokenizer: Tokenizer | None  # None: the run reads numeric sequences
    classes: list[str]
    input_size: int | None  # features per step of numeric sequences


def read_artefacts(artefacts: dict[str, Any]) -> tuple[list[str], int | None, Tokenizer | None]:
    """(classes, input_size, tokenizer) from a run's ``classes.json`` and, for a text run,
    ``vocab.json``; input_size is None for texts, tokenizer None for numeric sequences."""
    try:
        classes = [str(c) for c in artefacts[CLASSES_FILE]["classes"]]
        input_size = artefacts[CLASSES_FILE]["input_size"]
        vocab = artefacts.get(VOCAB_FILE)
        return classes, input_size, tokenizer_from_dict(vocab) if vocab is not None else None
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{CLASSES_FILE} or {VOCAB_FILE} is damaged ({e})") from None


def classifier_of(run: Loaded) -> LoadedClassifier:
    """``run`` with its classes and, for a text run, its tokenizer."""
    classes, input_size, tokenizer = read_artefacts(run.artefacts)
    return LoadedClassifier(**vars(run), tokenizer=tokenizer, classes=classes,
                            input_size=input_size)  # fmt: skip


def _inputs(clf: LoadedClassifier, items: list[Any]) -> dict[str, Tensor]:
    """Texts (text runs) or (T, I) float sequences (numeric runs) -> padded inputs, lengths."""
    if not items:
        raise ValueError("nothing to classify: give at least one text or sequence")
    if clf.tokenizer is None and any(isinstance(x, str) for x in items):
        raise ValueError(
            f"{clf.run_dir} classifies numeric sequences, not texts: give each as rows of "
            f"{clf.input_size} numbers"
        )
    if clf.tokenizer is not None:
        if not all(isinstance(t, str) and t.strip() for t in items):
            raise ValueError("every text to classify must be a non-empty string")
        return pad(encode_texts(clf.tokenizer, items, clf.config.data.max_length))
    sequences = [torch.as_tensor(x, dtype=torch.float32) for x in items]
    for i, x in enumerate(sequences):
        if x.dim() != 2 or x.shape[1] != clf.input_size or len(x) == 0:
            raise ValueError(
                f"sequence {i} has shape {tuple(x.shape)}; this model reads (T, "
                f"{clf.input_size}) rows of numbers"
            )
    return pad(sequences)


def classify(
    clf: LoadedClassifier, items: list[Any], top: int | None = None, explain: bool = False
) -> list[dict]:
    """Each item's likeliest label and the probability of every class (or the ``top``).

    ``explain`` (text runs trained with ``model.pooling=attention``): each result also has
    ``"weights"``, a ``[token, weight]`` pair for every token the network read, in order
    (see `tokens`), the weights summing to 1: where the attention pooling looked; and
    ``"unread"``, the count of tokens past ``data.max_length``, when there are any."""
    if explain:
        check_explainable(clf)
    batch = _inputs(clf, items)
    probs = predict(clf.model, batch["inputs"], batch["lengths"])
    out = []
    for row in probs.tolist():
        ranked = sorted(zip(clf.classes, row, strict=True), key=lambda pair: -pair[1])
        out.append({"label": ranked[0][0], "probabilities": dict(ranked[:top])})
    if explain:
        cut = clf.config.data.max_length
        for result, text, weights in zip(out, items, _attention(clf.model, batch), strict=True):
            every = tokens(clf.tokenizer, text, None)
            pieces = every[:cut] if cut else every  # as `tokens` cuts them
            result["weights"] = [list(pair) for pair in zip(pieces, weights, strict=True)]
            if unread := len(every) - len(pieces):
                result["unread"] = unread
    return out


def explains(clf: LoadedClassifier) -> str | None:
    """Why ``clf`` cannot explain its labels (one line), or None when it can."""
    if clf.tokenizer is None:
        return (f"{clf.run_dir} classifies numeric sequences; explaining shows the weights of "
                "the words of a text, so it needs a text run")  # fmt: skip
    pooling = clf.config.model.pooling
    if pooling != "attention":
        return (f"{clf.run_dir} was trained with pooling={pooling}; train with "
                'model.pooling=attention (or pooling = "attention" in [model] of --config) '
                "to explain")  # fmt: skip
    return None


def check_explainable(clf: LoadedClassifier) -> None:
    """A ValueError saying why, when ``clf`` cannot explain (`explains`)."""
    if (reason := explains(clf)) is not None:
        raise ValueError(reason)


def tokens(tokenizer: Tokenizer, text: str, max_length: int | None) -> list[str]:
    """The tokens of ``text`` the network reads, as text: a word or char run's tokens as its
    tokenizer splits them (lowercased if it lowercases; rare ones as they are, not <unk>),
    a bpe run's pieces of the original text (a character split over several byte tokens is
    on the first, the rest are ""); cut to ``max_length`` as `encode_texts` cuts the ids,
    and ``["<unk>"]`` for a text without a token, which the network reads as <unk>."""
    if isinstance(tokenizer, BPETokenizer):
        pieces, end = [], 0
        for start, stop in tokenizer.backend.encode(text, add_special_tokens=False).offsets:
            pieces.append(text[max(start, end) : stop])
            end = max(end, stop)
    else:
        pieces = tokenizer.words(text)
    return (pieces[:max_length] if max_length else pieces) or [UNK]


@torch.no_grad()
def _attention(model: SequenceClassifier, batch: dict[str, Tensor], size: int = 256):
    """Each row's attention weights over its valid steps, in batches, in eval mode."""
    with evaluating(model):
        out: list[list[float]] = []
        for start in range(0, len(batch["inputs"]), size):
            lengths = batch["lengths"][start : start + size]
            inputs = batch["inputs"][start : start + size, : int(lengths.max())]
            weights = model.attention_weights(inputs, lengths).double()
            out += [row[:n].tolist() for row, n in zip(weights, lengths.tolist(), strict=True)]
    return out


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 text file; a binary file or another encoding is one clear error."""
    data = Path(path).read_bytes()
    try:
        if b"\0" in data:
            raise UnicodeDecodeError("utf-8", data, data.index(b"\0"), len(data), "NUL byte")
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text file: give one input per line") from None


def read_numbers(path: str | Path, input_size: int) -> list[Tensor]:
    """Sequences to classify from a text file: one per line, numbers separated by commas,
    tabs or spaces, ``input_size`` per step."""
    sequences = []
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.replace(",", " ").split()]
        except ValueError as e:
            raise ValueError(f"{path} line {number}: {e}") from e
        if len(values) % input_size:
            raise ValueError(
                f"{path} line {number} has {len(values)} numbers, not a multiple of the "
                f"{input_size} features per step this model reads"
            )
        sequences.append(torch.tensor(values).view(-1, input_size))
    return sequences


def evaluate_run(
    run_dir: str | Path, source: str, out: str | Path | None = None, **columns: str
) -> ClassReport:
    """Score a run on labelled data: the test part of a named source or folder, or every row
    of a .csv/.tsv/.jsonl file (``text_column``, ``label_column`` as in training unless
    given). A run trained on some labels (``data.labels``) is scored on the rows of those
    labels; ``data.min_confidence`` is kept for ``tweets`` only. With ``out``, writes
    ``evaluation.json`` and ``confusion.png`` there."""
    clf = load_run_of("classify", run_dir)
    confidence = clf.config.data.min_confidence if source == "tweets" else 0.0
    data = DataConfig(**{**clf.config.data.__dict__, "source": source,
                         "min_confidence": confidence, **columns})  # fmt: skip
    if parse_source(source).form == "table":  # every row is evaluation data
        items, labels, kind = read_table(data)
        if data.labels is not None:
            kept = [(x, y) for x, y in zip(items, labels, strict=True) if y in data.labels]
            items, labels = [x for x, _ in kept], [y for _, y in kept]
    else:  # a named or folder source: its test part
        split = read_source(data)
        items, labels, kind = split.test_inputs, split.test_labels, split.kind
    if (kind == "text") != (clf.tokenizer is not None):
        wanted = "texts" if clf.tokenizer is not None else "numeric sequences"
        raise ValueError(f"{clf.run_dir} classifies {wanted}; {source} holds {kind} data")
    part = _inputs(clf, items) if kind == "text" else pad(items)
    part["targets"] = labeled.encode_labels(labels, clf.classes)
    report = scores(clf.model, part, clf.classes)
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / "evaluation.json", report.to_dict() | {"source": source})
        plot_confusion(report, folder / "confusion.png", title=f"{source}")
    return report
