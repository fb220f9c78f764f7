"""Tokenizers: text to token ids and back, at the level of characters, words or byte pairs.

    tok = build_tokenizer("word", texts, vocab_size=10000, min_count=2, lowercase=True)
    stream = encode_documents(tok, texts)  # ids, with <eos> after each document
    save_tokenizer(tok, "run/vocab.json"); tok = load_tokenizer("run/vocab.json")

Every kind has the same two special tokens: ``<unk>`` (id 0, anything outside the vocabulary)
and ``<eos>`` (id 1, the end of a document or query). ``decode`` writes ``<eos>`` as a line
break and ``<unk>`` as the text ``<unk>``.

Kinds:
    char: every character seen in training. Decoding is exact for characters in the vocabulary.
    word: a regular expression (see `WORD`). A word is a run of letters, digits and
        underscores with inner apostrophes (``isn't``, ``__init__``), or a decimal number or
        version (``3.14``, ``1.2.3``); with ``punctuation="split"`` every other non-space
        character is a token of its own, ``"strip"`` drops them, ``"keep"`` splits at
        whitespace only. Decoding joins tokens with single spaces, without a space before
        closing punctuation (``.,;:!?%)]}``) or after an opening bracket, and with quotes
        read as alternately opening and closing, so ``isn't it?`` comes back as it went in.
        Lost: the exact whitespace (``os.path`` comes back as ``os. path``), case when
        ``lowercase``, and rare words (``<unk>``).
    bpe: byte-pair encoding by the ``tokenizers`` library over GPT-2's byte-level
        pre-tokenizer: the 256 byte values are always in the vocabulary, so any text
        encodes without ``<unk>`` and decodes exactly (``vocab_size`` must be at least 258).
        ``token(id)`` is the byte-level entry (a leading space shows as ``Ġ``); ``decode([id])``
        is its text.

The vocabulary of char and word is the most frequent tokens seen at least ``min_count`` times,
ties broken by the token, so the same texts always give the same ids. For bpe, ``min_count``
is the fewest times a pair must occur to be merged.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import tokenizers
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

from rnnkit.io import atomic_write_json

UNK, EOS = "<unk>", "<eos>"
SPECIALS = (UNK, EOS)  # ids 0 and 1 in every kind
KINDS = ("char", "word", "bpe")
PUNCTUATION = ("split", "strip", "keep")
BPE_ALPHABET = 256 + len(SPECIALS)  # the smallest byte-level vocabulary

WORD = r"\d+(?:\.\d+)+|\w+(?:['\u2019]\w+)*"  # a number like 3.14 first, else \w runs with inner '
_PATTERNS = {
    "split": re.compile(rf"{WORD}|[^\w\s]"),
    "strip": re.compile(WORD),
    "keep": re.compile(r"\S+"),
}
_CLOSING = frozenset(".,;:!?%)]}")  # no space before these when decoding
_OPENING = frozenset("([{")  # no space after these
_QUOTES = frozenset("\"'`")  # alternately opening and closing


class Tokenizer:
    """What every kind offers; build one with `build_tokenizer`, rebuild with `load_tokenizer`.

    ``encode(text) -> ids`` (no ``<eos>`` added), ``token(id)`` the vocabulary entry,
    ``id(token)`` its id (``unk_id`` when not an entry), ``to_dict()`` JSON-able data with
    ``kind`` and the options, and `decode`.
    """

    kind: str
    vocab_size: int
    unk_id = SPECIALS.index(UNK)
    eos_id = SPECIALS.index(EOS)

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """`encode` of each text."""
        return [self.encode(text) for text in texts]

    def token(self, id: int) -> str:
        raise NotImplementedError

    def id(self, token: str) -> int:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        """Readable text of ``ids``; each ``<eos>`` becomes a line break."""
        pieces: list[list[int]] = [[]]
        for i in map(int, ids):
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"token ids must be in [0, {self.vocab_size}), got {i}")
            if i == self.eos_id:
                pieces.append([])
            else:
                pieces[-1].append(i)
        return "\n".join(self._decode_piece(piece) for piece in pieces)

    def _decode_piece(self, ids: list[int]) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


class _ListedTokenizer(Tokenizer):
    """A vocabulary that is a list of strings (char, word); ``split`` cuts text into them."""

    def __init__(self, tokens: Sequence[str], lowercase: bool, split) -> None:
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS or len(set(tokens)) != len(tokens):
            raise ValueError(f"tokens must start with {list(SPECIALS)} and hold no duplicates")
        self.tokens, self.lowercase, self._split = tokens, lowercase, split
        self.vocab_size = len(tokens)
        # Encoding looks up ordinary tokens only: a literal "<eos>" in the text is unknown.
        self._ids = {t: i for i, t in enumerate(tokens) if i >= len(SPECIALS)}

    def words(self, text: str) -> list[str]:
        """The token strings of ``text`` before they become ids (lowercased if so set)."""
        return self._split(text.lower() if self.lowercase else text)

    def encode(self, text: str) -> list[int]:
        get, unk = self._ids.get, self.unk_id
        return [get(t, unk) for t in self.words(text)]

    def token(self, id: int) -> str:
        if not 0 <= id < self.vocab_size:
            raise ValueError(f"token id must be in [0, {self.vocab_size}), got {id}")
        return self.tokens[id]

    def id(self, token: str) -> int:
        return SPECIALS.index(token) if token in SPECIALS else self._ids.get(token, self.unk_id)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "lowercase": self.lowercase, "tokens": list(self.tokens)}


class CharTokenizer(_ListedTokenizer):
    kind = "char"

    def __init__(self, tokens: Sequence[str], lowercase: bool = False) -> None:
        super().__init__(tokens, lowercase, list)

    def _decode_piece(self, ids: list[int]) -> str:
        return "".join(self.tokens[i] for i in ids)


class WordTokenizer(_ListedTokenizer):
    kind = "word"

    def __init__(
        self, tokens: Sequence[str], lowercase: bool = False, punctuation: str = "split"
    ) -> None:
        # The regular expression is compiled once, at import: encoding is the hot path.
        super().__init__(tokens, lowercase, _PATTERNS[_check_punctuation(punctuation)].findall)
        self.punctuation = punctuation

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"punctuation": self.punctuation}

    def _decode_piece(self, ids: list[int]) -> str:
        if self.punctuation == "keep":
            return " ".join(self.tokens[i] for i in ids)
        out: list[str] = []
        glue = True  # no space before the first token
        open_quotes: set[str] = set()
        for token in (self.tokens[i] for i in ids):
            closing = token in _CLOSING or (token in _QUOTES and token in open_quotes)
            if not (glue or closing):
                out.append(" ")
            out.append(token)
            glue = token in _OPENING or (token in _QUOTES and not closing)
            if token in _QUOTES:
                open_quotes ^= {token}
        return "".join(out)


class BPETokenizer(Tokenizer):
    """Byte-pair encoding; ``backend`` is a trained ``tokenizers.Tokenizer``."""

    kind = "bpe"

    def __init__(self, backend: tokenizers.Tokenizer) -> None:
        if [backend.token_to_id(t) for t in SPECIALS] != list(range(len(SPECIALS))):
            raise ValueError(f"a bpe tokenizer must have {list(SPECIALS)} as ids 0 and 1")
        # The library matches special tokens inside the text; read "<eos>" there as text.
        backend.encode_special_tokens = True
        self.backend, self.vocab_size = backend, backend.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]

    def token(self, id: int) -> str:
        token = self.backend.id_to_token(id) if 0 <= id < self.vocab_size else None
        if token is None:
            raise ValueError(f"token id must be in [0, {self.vocab_size}), got {id}")
        return token

    def id(self, token: str) -> int:
        found = self.backend.token_to_id(token)
        return self.unk_id if found is None else found

    def to_dict(self) -> dict[str, Any]:
        lowercase = isinstance(self.backend.normalizer, normalizers.Lowercase)  # for the reader
        return {
            "kind": "bpe",
            "lowercase": lowercase,
            "tokenizer": json.loads(self.backend.to_str()),
        }

    def _decode_piece(self, ids: list[int]) -> str:
        return self.backend.decode(ids, skip_special_tokens=False)


def _check_punctuation(punctuation: str) -> str:
    if punctuation not in PUNCTUATION:
        raise ValueError(
            f"punctuation must be one of {', '.join(PUNCTUATION)}, got {punctuation!r}"
        )
    return punctuation


def _check_build(kind: str, vocab_size: int | None, min_count: int, punctuation: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"tokenizer kind must be one of {', '.join(KINDS)}, got {kind!r}")
    _check_punctuation(punctuation)
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
    """Learn a ``kind`` ("char", "word" or "bpe") tokenizer from ``texts`` (see the module doc).

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
