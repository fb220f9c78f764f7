"""Decoding connectionist temporal classification (CTC) outputs: greedy, and a prefix beam
search with a word language model.

    ids = ctc_greedy(log_probs)                        # (T, V) log-probabilities, blank 0
    lm = WordLM.fit(["three oh seven", ...])
    best = ctc_beam_search(log_probs, beam=16, lm=lm, alpha=0.5, beta=1.0, space=1)[0]

A CTC network writes, at every frame, a distribution over the symbols and a blank (id 0). A
labelling is read from a path of per-frame symbols by merging repeats, then dropping blanks
("aa-ab" and "a-abb" both read "aab"); its probability is the sum over every path that reads
it (Graves et al. 2006).

`ctc_greedy` takes the most likely symbol of each frame: the best path, not the best
labelling. `ctc_beam_search` keeps the ``beam`` best prefixes frame by frame, each with the
probability of its paths that end in a blank and of those that end in its last symbol, so
that the sum over paths is exact for the prefixes it keeps (the prefix search of Graves 2006
and Hannun et al. 2014); with a beam as wide as the number of prefixes it is the exact
probability of each labelling. Prefixes are ranked by

    log P_ctc(prefix) + alpha log P_lm(words) + beta (number of words)

where the language model scores a word when the space after it (or the end) completes it,
and ``beta`` rewards each word, against the language model's bias towards short outputs.
Symbols below ``prune`` probability at a frame are not tried.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from rnnkit.models.ngram import KneserNey

__all__ = ["Hypothesis", "WordLM", "ctc_beam_search", "ctc_greedy"]

BLANK = 0


def ctc_greedy(log_probs: Tensor | np.ndarray) -> list[int]:
    """The symbols of the best path of (T, V) log-probabilities: repeats merged, blanks
    dropped."""
    best = np.asarray(log_probs).argmax(axis=-1)
    return [int(s) for i, s in enumerate(best) if s != BLANK and (i == 0 or s != best[i - 1])]


class WordLM:
    """A Kneser-Ney word n-gram model over texts, for `ctc_beam_search`: ``log_prob(history,
    word)`` is the natural log of P(word | the words before), with unknown words as one
    ``<unk>`` and ``None`` as the end of the text."""

    def __init__(self, vocabulary: Sequence[str], model: KneserNey) -> None:
        self.ids = {word: i for i, word in enumerate(vocabulary)}
        self.unk, self.eos = self.ids["<unk>"], self.ids["<eos>"]
        self.model, self.order = model, model.order
        self.texts: list[str] = []
        self.words: list[str] = []
        known = [w for w in vocabulary if w not in ("<unk>", "<eos>")]
        self.prefixes = {w[:i] for w in known for i in range(1, len(w) + 1)}
        self._cache: dict[tuple[tuple[str, ...], str | None], float] = {}

    @classmethod
    def fit(cls, texts: Sequence[str], order: int = 3, words: Sequence[str] = ()) -> WordLM:
        """The model of ``texts`` (one sentence each, words separated by spaces). ``words``
        joins the vocabulary without being read (a closed vocabulary known beforehand):
        such a word has the probability of one never seen."""
        known = sorted({w for t in texts for w in t.split()} | set(words))
        lm = cls(["<unk>", "<eos>", *known], KneserNey(order))
        lm.texts, lm.words = list(texts), list(words)
        stream = [i for t in texts for i in (*map(lm.id, t.split()), lm.eos)]
        lm.model.fit(stream, len(lm.ids), lm.eos)
        return lm

    def allows(self, word: str, char: str) -> bool:
        """Whether ``char`` may follow the partial ``word`` in a closed vocabulary: a letter
        where the word goes on to a known one, a space after a known word (or none)."""
        if char == " ":
            return word in self.prefixes and word in self.ids
        return word + char in self.prefixes

    def id(self, word: str | None) -> int:
        return self.eos if word is None else self.ids.get(word, self.unk)

    def log_prob(self, history: tuple[str, ...], word: str | None) -> float:
        key = (history[-(self.order - 1) :] if self.order > 1 else (), word)
        if key not in self._cache:
            context = [self.eos, *map(self.id, key[0])]  # each text starts after an <eos>
            self._cache[key] = math.log(self.model.prob(context, self.id(word)))
        return self._cache[key]

    def to_dict(self) -> dict:
        """What `from_dict` refits the same model from: its order, texts and words."""
        return {"order": self.order, "texts": self.texts, "words": self.words}

    @classmethod
    def from_dict(cls, saved: dict) -> WordLM:
        return cls.fit(saved["texts"], saved["order"], saved.get("words", ()))


@dataclass
class Hypothesis:
    """A labelling found by `ctc_beam_search`: its symbols, its CTC log-probability (the
    sum over its paths), its language model log-probability, its words and its score."""

    ids: tuple[int, ...]
    ctc: float
    lm: float
    words: int
    score: float


@dataclass
class _Prefix:
    blank: float = -math.inf  # log P of the paths that read the prefix and end in a blank
    symbol: float = -math.inf  # ... that end in its last symbol
    lm: float = 0.0  # log P_lm of its completed words
    words: int = 0
    word: str = ""  # the word it ends in, so far

    @property
    def total(self) -> float:
        return _logadd(self.blank, self.symbol)


def _logadd(a: float, b: float) -> float:
    """log(exp(a) + exp(b)), exact at -inf."""
    if a < b:
        a, b = b, a
    return a if b == -math.inf else a + math.log1p(math.exp(b - a))


def ctc_beam_search(
    log_probs: Tensor | np.ndarray,
    beam: int = 16,
    *,
    lm: WordLM | None = None,
    alpha: float = 0.5,
    beta: float = 0.0,
    space: int | None = None,
    alphabet: str | None = None,
    prune: float = 1e-4,
    lexicon: bool = False,
) -> list[Hypothesis]:
    """The ``beam`` best labellings of (T, V) log-probabilities (blank 0), best first (see
    the module docstring). A language model needs ``alphabet`` (the character of each id,
    blank included) and ``space``, the id that separates words. With ``lexicon`` it writes
    only the words the language model has read: a closed vocabulary."""
    if beam < 1:
        raise ValueError(f"beam must be at least 1, got {beam}")
    if lm is not None and (alphabet is None or space is None):
        raise ValueError("a language model needs the alphabet and the id of the space")
    if lexicon and lm is None:
        raise ValueError("a lexicon comes from the language model: give one")
    frames = np.asarray(log_probs, dtype=np.float64).tolist()
    floor = math.log(prune) if prune > 0 else -math.inf

    def words_of(ids: tuple[int, ...]) -> list[str]:
        return "".join(alphabet[i] for i in ids).split() if alphabet else []

    def rank(prefix: tuple[int, ...], p: _Prefix) -> float:
        return p.total + (alpha * p.lm + beta * p.words if lm is not None else 0.0)

    beams: dict[tuple[int, ...], _Prefix] = {(): _Prefix(blank=0.0)}
    for frame in frames:
        tried = [s for s, lp in enumerate(frame) if lp >= floor and s != BLANK]
        found: dict[tuple[int, ...], _Prefix] = {}
        for prefix, p in beams.items():
            here = found.setdefault(prefix, _Prefix(lm=p.lm, words=p.words, word=p.word))
            here.blank = _logadd(here.blank, p.total + frame[BLANK])
            last = prefix[-1] if prefix else None
            for s in tried:
                if s == last:  # a repeat without a blank between merges into the prefix
                    here.symbol = _logadd(here.symbol, p.symbol + frame[s])
                    via = p.blank  # only after a blank does it start a new symbol
                else:
                    via = p.total
                if s == space and (not prefix or last == space):
                    continue  # words are separated by one space, with none before the first
                if lexicon and not lm.allows(p.word, alphabet[s]):
                    continue
                longer = (*prefix, s)
                if longer not in found:
                    found[longer] = _extend(prefix, s, p, lm, space, words_of)
                    if alphabet is not None and s != space:
                        found[longer].word = p.word + alphabet[s]
                new = found[longer]
                new.symbol = _logadd(new.symbol, via + frame[s])
        possible = [kv for kv in found.items() if kv[1].total > -math.inf]
        beams = dict(sorted(possible, key=lambda kv: rank(*kv), reverse=True)[:beam])
    if lexicon and any(not p.word or lm.allows(p.word, " ") for p in beams.values()):
        beams = {k: p for k, p in beams.items() if not p.word or lm.allows(p.word, " ")}
    final = []
    for prefix, p in beams.items():
        said = words_of(prefix)
        lm_score = p.lm
        if lm is not None:
            if said and prefix[-1] != space:  # the last word, completed by the end
                lm_score += lm.log_prob(tuple(said[:-1]), said[-1])
            lm_score += lm.log_prob(tuple(said), None)
            score = p.total + alpha * lm_score + beta * len(said)
        else:
            score = p.total
        final.append(Hypothesis(prefix, p.total, lm_score, len(said), score))
    if space is not None:  # "ab" and "ab " read the same: one hypothesis, their paths summed
        final = _merge_trailing_spaces(final, space, alpha if lm is not None else 0.0)
    return sorted(final, key=lambda h: h.score, reverse=True)


def _merge_trailing_spaces(found: list[Hypothesis], space: int, alpha: float) -> list[Hypothesis]:
    merged: dict[tuple[int, ...], Hypothesis] = {}
    for h in found:
        key = h.ids[:-1] if h.ids and h.ids[-1] == space else h.ids
        if key in merged:
            other = merged[key]
            ctc = _logadd(other.ctc, h.ctc)
            merged[key] = Hypothesis(key, ctc, other.lm, other.words,
                                     other.score - other.ctc + ctc)  # fmt: skip
        else:
            merged[key] = Hypothesis(key, h.ctc, h.lm, h.words, h.score)
    return list(merged.values())


def _extend(prefix, symbol, p: _Prefix, lm: WordLM | None, space, words_of) -> _Prefix:
    """The new prefix ``prefix + symbol`` with its language model score: a space after a
    word completes that word."""
    new = _Prefix(lm=p.lm, words=p.words)
    if lm is not None and symbol == space and prefix and prefix[-1] != space:
        said = words_of(prefix)
        new.lm += lm.log_prob(tuple(said[:-1]), said[-1])
        new.words += 1
    return new
