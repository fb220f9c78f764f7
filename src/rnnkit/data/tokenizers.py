"""Tokenizers: text to token ids and back, at the level of characters, words or byte pairs.

    tok = build_tokenizer("word", texts, vocab_size=10000, min_count=2, lowercase=True)
    stream = encode_documents(tok, texts)  # ids, with <eos> after each document
    save_tokenizer(tok, "run/vocab.json"); tok = load_tokenizer("run/vocab.json")

Here: building a tokenizer from texts (BPE training included), writing it as JSON and
reading it back, and encoding documents into one stream. The kinds (char, word, bpe), their
classes and the special tokens ``<unk>`` (id 0) and ``<eos>`` (id 1) are in
`rnnkit.data.tokenizer_kinds`; they are imported from here too.

The vocabulary of char and word is the most frequent tokens seen at least ``min_count`` times,
ties broken by the token, so the same texts always give the same ids. For bpe, ``min_count``
is the fewest times a pair must occur to be merged.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import tokenizers
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

from rnnkit.data.tokenizer_kinds import (
    BPE_ALPHABET,
    EOS,
    KINDS,
    PUNCTUATION,
    SPECIALS,
    UNK,
    WORD,
    BPETokenizer,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    check_punctuation,
)
from rnnkit.io import atomic_write_json

__all__ = [
    "BPE_ALPHABET",
    "EOS",
    "KINDS",
    "PUNCTUATION",
    "SPECIALS",
    "UNK",
    "WORD",
    "BPETokenizer",
    "CharTokenizer",
    "Tokenizer",
    "WordTokenizer",
    "build_tokenizer",
    "encode_documents",
    "load_tokenizer",
    "save_tokenizer",
    "tokenizer_from_dict",
]


def _check_build(kind: str, vocab_size: int | None, min_count: int, punctuation: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"tokenizer kind must be one of {', '.join(KINDS)}, got {kind!r}")
    check_punctuation(punctuation)
    smallest = BPE_ALPHABET if kind == "bpe" else len(SPECIALS) + 1
    if kind == "bpe" and vocab_size is None:
        raise ValueError("a bpe tokenizer needs vocab_size (the tokens to learn, e.g. 8000)")
    if vocab_size is not None and (not isinstance(vocab_size, int) or vocab_size < smallest):
        raise ValueError(
            f"{kind} vocab_size must be an int of at least {smallest} "
            f"({', '.join(SPECIALS)} and the tokens), got {vocab_size!r}"
        )
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a positive int, got {min_count!r}")
    if kind != "word" and punctuation != "split":
        warnings.warn(f"punctuation={punctuation!r} only applies to word level", stacklevel=3)


def _listed(kind: str, tokens: Sequence[str], lowercase: bool, punctuation: str):
    if kind == "char":
        return CharTokenizer(tokens, lowercase)
    return WordTokenizer(tokens, lowercase, punctuation)


def _vocabulary(counts: Counter[str], vocab_size: int | None, min_count: int) -> list[str]:
    """Specials, then the most frequent tokens seen at least ``min_count`` times."""
    kept = sorted((t for t, c in counts.items() if c >= min_count and t not in SPECIALS),
                  key=lambda t: (-counts[t], t))  # fmt: skip
    if not kept:
        raise ValueError(f"no token occurs at least min_count={min_count} times; lower min_count")
    cap = None if vocab_size is None else vocab_size - len(SPECIALS)
    return [*SPECIALS, *kept[:cap]]


def _train_bpe(texts: list[str], vocab_size: int, min_count: int, lowercase: bool):
    backend = tokenizers.Tokenizer(models.BPE(unk_token=UNK))
    if lowercase:
        backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.encode_special_tokens = True  # train on "<eos>" in the text as encode will read it
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_count,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte: no <unk> ever
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    return BPETokenizer(backend)


def build_tokenizer(
    kind: str,
    texts: Iterable[str],
    *,
    vocab_size: int | None = None,
    min_count: int = 1,
    lowercase: bool = False,
    punctuation: str = "split",
) -> Tokenizer:
    """Learn a ``kind`` ("char", "word" or "bpe") tokenizer from ``texts``.

    The kinds are described in `rnnkit.data.tokenizer_kinds`.

    Args:
        vocab_size: the most tokens, specials included; None keeps every token seen
            ``min_count`` times (char, word). Required for bpe (at least 258).
        min_count: rarer tokens are ``<unk>`` (char, word); the fewest occurrences of a merged
            pair (bpe). Default 1.
        lowercase: lowercase text before tokenizing, in training and in `encode`.
        punctuation: word level: "split" (each punctuation character a token, default),
            "strip" (dropped) or "keep" (split at whitespace only).
    """
    _check_build(kind, vocab_size, min_count, punctuation)
    if isinstance(texts, str):
        raise ValueError("texts must be an iterable of documents, not one string: use [text]")
    texts = list(texts)
    if not any(texts):
        raise ValueError("no training text: texts must hold at least one non-empty string")
    if kind == "bpe":
        return _train_bpe(texts, vocab_size, min_count, lowercase)
    words = _listed(kind, SPECIALS, lowercase, punctuation).words
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(words(text))
    return _listed(kind, _vocabulary(counts, vocab_size, min_count), lowercase, punctuation)


def tokenizer_from_dict(d: dict[str, Any]) -> Tokenizer:
    """The tokenizer that `Tokenizer.to_dict` described."""
    kind = d.get("kind") if isinstance(d, dict) else None
    if kind not in KINDS:
        raise ValueError(f"unknown tokenizer kind {kind!r}; expected one of {', '.join(KINDS)}")
    try:
        if kind == "bpe":
            return BPETokenizer(tokenizers.Tokenizer.from_str(json.dumps(d["tokenizer"])))
        return _listed(kind, d["tokens"], bool(d["lowercase"]), d.get("punctuation", "split"))
    except KeyError as e:
        raise ValueError(f"{kind} tokenizer description lacks {e}") from e
    except Exception as e:  # tokenizers raises a bare Exception on a bad description
        raise ValueError(f"unreadable {kind} tokenizer: {e}") from e


def save_tokenizer(tokenizer: Tokenizer, path: str | Path) -> None:
    """Write ``tokenizer`` to ``path`` as JSON, atomically."""
    atomic_write_json(path, tokenizer.to_dict())


def load_tokenizer(path: str | Path) -> Tokenizer:
    """The tokenizer `save_tokenizer` wrote to ``path``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: no tokenizer was saved there")
    try:
        return tokenizer_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise ValueError(f"{path} is not a tokenizer file: {e}") from e


def encode_documents(
    tokenizer: Tokenizer, texts: Iterable[str], repeats: Iterable[int] | None = None
) -> list[int]:
    """One stream of ids: each text's tokens followed by ``<eos>`` (what truncated BPTT reads).

    ``repeats`` (one positive int per text; default 1 each) puts text i into the stream
    ``repeats[i]`` times, encoded once, its copies spread evenly: copy j of text i stands at
    the fraction (j + (i + 0.5) / n) / repeats[i] of the stream (n texts). Texts seen once keep
    their order, and copies do not bunch up (side by side, or all at the end, they would teach
    a network to repeat the previous document).
    """
    texts = list(texts)
    times = [1] * len(texts) if repeats is None else list(repeats)
    if len(times) != len(texts):
        raise ValueError(f"repeats has {len(times)} entries for {len(texts)} texts; give one each")
    if bad := [r for r in times if isinstance(r, bool) or not isinstance(r, int) or r < 1]:
        raise ValueError(f"repeats must be positive ints, got {bad[0]!r}")
    documents = [[*ids, tokenizer.eos_id] for ids in tokenizer.encode_batch(texts)]
    n = len(texts)
    places = sorted(((j + (i + 0.5) / n) / r, i) for i, r in enumerate(times) for j in range(r))
    stream: list[int] = []
    for _, i in places:
        stream += documents[i]
    return stream
