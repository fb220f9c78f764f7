"""The tokenizer classes, one per kind: text to token ids and back, by characters, words or
byte pairs. Building one from texts, saving and loading it: `rnnkit.data.tokenizers`.

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
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import tokenizers
from tokenizers import normalizers

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
    """What every kind offers; build one with `build_tokenizer`, rebuild with `load_tokenizer`
    (both in `rnnkit.data.tokenizers`).

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
        super().__init__(tokens, lowercase, _PATTERNS[check_punctuation(punctuation)].findall)
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


def check_punctuation(punctuation: str) -> str:
    if punctuation not in PUNCTUATION:
        raise ValueError(
            f"punctuation must be one of {', '.join(PUNCTUATION)}, got {punctuation!r}"
        )
    return punctuation
