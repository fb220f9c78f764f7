"""Paired data for sequence-to-sequence tasks: one target per source (translation, speech,
captioning).

    pairs = load_pairs("fra.txt")                       # Tatoeba / Anki: source<TAB>target<TAB>...
    pairs = load_pairs("pairs.csv", source_column="en", target_column="fr")
    train, val, test = split_pairs(pairs, val_fraction=0.05, test_fraction=0.05)

A file of pairs is one of:

- ``.txt``, or ``.tsv`` without column names: the layout of the Tatoeba and Anki
  (manythings.org) exports, one pair a line, ``source<TAB>target``, with any further columns
  (an attribution) ignored and no header. Quotes are text here, not CSV quoting: sentences
  hold them as they are.
- ``.csv``, or ``.tsv`` with column names: a header row naming ``source_column`` and
  ``target_column`` (default "source" and "target"), read by `rnnkit.data.tables`.
- ``.jsonl``: one object per line with the fields ``source_column`` and ``target_column``.

The source is a sentence, or for speech and captioning the path of an audio clip or an image.
Every pair needs a non-empty source and target; a pair seen before (the same source and
target) is dropped. Every problem is a one-line ValueError naming the file and the line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.tables import check_file, lines, read_table, read_text

__all__ = ["PAIR_SUFFIXES", "Pair", "load_pairs", "split_key", "split_pairs"]

PAIR_SUFFIXES = (".txt", ".tsv", ".csv", ".jsonl")


@dataclass(frozen=True)
class Pair:
    """One example of a sequence-to-sequence task: the ``source`` (a sentence, or the path
    of an audio clip or an image) and the ``target`` text it maps to."""

    source: str
    target: str


def load_pairs(
    path: str | Path,
    source_column: str | None = None,
    target_column: str | None = None,
    *,
    dedupe: bool = True,
) -> list[Pair]:
    """The pairs of the file ``path``, in file order (see the module docstring for layouts).

    ``source_column`` and ``target_column`` name the columns of a ``.csv``/``.jsonl`` file, or
    of a ``.tsv`` file with a header (default "source" and "target"); naming them for a
    ``.txt`` file is an error, since it has no header. ``dedupe`` (default True) drops a pair
    that repeats an earlier one exactly, surrounding spaces aside.
    """
    path = check_file(path, PAIR_SUFFIXES)
    suffix = path.suffix.lower()
    named = source_column is not None or target_column is not None
    if suffix == ".txt" and named:
        raise ValueError(
            f"{path} is a .txt file of source<TAB>target lines without a header, so it has no "
            "column names; rename it .tsv (with a header line) to pick columns by name"
        )
    if suffix == ".txt" or (suffix == ".tsv" and not named):
        found = _tab_pairs(path)
    else:
        found = _table_pairs(path, source_column or "source", target_column or "target")
    if not found:
        raise ValueError(f"{path} has no pairs; write one source<TAB>target pair a line")
    return list(dict.fromkeys(found)) if dedupe else found


def _tab_pairs(path: Path) -> list[Pair]:
    pairs = []
    for number, line in lines(read_text(path)):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        where = f"{path} line {number}"
        if len(fields) < 2:
            raise ValueError(
                f"{where} has one column; a pair needs source<TAB>target (a tab between them)"
            )
        pairs.append(Pair(_cell(fields[0], where, "source"), _cell(fields[1], where, "target")))
    return pairs


def _table_pairs(path: Path, source_column: str, target_column: str) -> list[Pair]:
    table = read_table(path)
    table.require(source_column, target_column)
    source_is = "source" if source_column == "source" else f"source (column {source_column!r})"
    target_is = "target" if target_column == "target" else f"target (column {target_column!r})"
    pairs = []
    for row in table.rows:
        where = f"{path} line {row.line}"
        source = _cell(row.get(source_column), where, source_is)
        pairs.append(Pair(source, _cell(row.get(target_column), where, target_is)))
    return pairs


def _cell(value: object, where: str, what: str) -> str:
    """A source or target cell as a non-empty string without surrounding spaces."""
    if value is None:
        raise ValueError(f"{where}: no {what}")
    if not isinstance(value, str):
        raise ValueError(f"{where}: the {what} is a JSON {type(value).__name__}; write a string")
    if not value.strip():
        raise ValueError(f"{where}: empty {what}")
    return value.strip()


def split_key(source: str) -> float:
    """Where ``source`` falls in [0, 1): from the SHA-256 of its text, case and spacing aside,
    so a sentence falls in the same place on every machine and every run."""
    text = " ".join(source.split()).casefold()
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_pairs(
    pairs: Sequence[Pair], val_fraction: float = 0.05, test_fraction: float = 0.05
) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """(train, validation, test) by a hash of each pair's source (`split_key`): test when it is
    below ``test_fraction``, validation below ``test_fraction + val_fraction``, else train.

    Every pair with the same source sentence (one sentence, several translations) lands in
    the same part, so no source is seen in training and scored in test. The parts keep file
    order and hold about the given fractions (exactly so only for many distinct sources).
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1 to leave pairs for training, got "
            f"{val_fraction} + {test_fraction}"
        )
    train: list[Pair] = []
    val: list[Pair] = []
    test: list[Pair] = []
    for pair in pairs:
        key = split_key(pair.source)
        part = test if key < test_fraction else val if key < test_fraction + val_fraction else train
        part.append(pair)
    return train, val, test
