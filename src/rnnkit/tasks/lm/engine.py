"""Autocomplete: next-word suggestions and phrase completions for what a user has typed.

The one inference path of a language-model run: ``rnnkit complete``, `rnnkit.tasks.lm.use.
complete` and ``GET /complete`` all answer through a `Completer`, so they give the same
suggestions for the same text.

    completer = Completer(load_run("runs/queries"), int8=True)
    completer.complete("What's the best food to eat in Las", k=5)
    # {"query": ..., "words": [{"word": "vegas", "text": "What's ... Las vegas",
    #   "probability": 0.91}, ...], "phrases": [{"text", "completion", "probability"}, ...],
    #   "unknown": [...]}

The typed text is read as complete words plus, when it does not end in a space or
punctuation, a word still being typed (the fragment). Suggestions are then:

- after a complete word: the likeliest next words, p(w | words);
- inside a word: the vocabulary words that start with the fragment, and, when the fragment is
  itself a word, that word followed by its likeliest next words, p(fragment | words) *
  p(w | words, fragment). Both are divided by the probability that the word starts with the
  fragment, so the figures are probabilities given what was typed: "eat in Las" gives
  "Las vegas" even though "Las" could still grow into "last".

Phrases extend the best ``phrases`` suggestions by up to ``phrase_words - 1`` more words,
``search="greedy"`` (default: the likeliest word at each step, stopping at the end of a
document) or ``search="beam"`` (`rnnkit.models.decoding.beam_search` of width ``beam``, never
ending early). A phrase's probability is that of its words given what was typed.
Suggestions are words that contain a letter or digit (no punctuation, no ``<unk>``).
Everything runs through `read_prefixes`: a prefix the cache holds costs nothing, one word
more costs one recurrent step, and all queries of a batch share each forward pass.

`TokenCompleter` is the same engine for character and BPE runs, which have no words to
complete: the whole text is context and the suggestions are the likeliest next tokens.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor

from rnnkit.tasks.lm.inference import (
    Key,
    StateCache,
    StepModel,
    extend_beam,
    extend_greedy,
    read_prefixes,
)

if TYPE_CHECKING:  # use.py builds completers: a runtime import would be circular
    from rnnkit.tasks.lm.use import LoadedLM

MAX_K = 50  # the largest k, phrases and beam a server accepts
SEARCHES = ("greedy", "beam")
Search = Literal["greedy", "beam"]


@dataclass(frozen=True)
class Request:
    """One query: ``text`` typed so far, ``k`` word suggestions, and phrase completions of
    the best ``phrases`` of them (at most ``k``), found by ``search`` (``"greedy"`` or
    ``"beam"``, of width ``beam``)."""

    text: str
    k: int = 5
    phrases: int = 3
    search: Search = "greedy"
    beam: int = 5


@dataclass(frozen=True)
class _Parsed:
    head: str  # the typed text before the fragment
    fragment: str  # the word being typed ("" after a space or punctuation), lowercased if so set
    typed: str  # the fragment as typed
    context: Key  # <eos> and the ids of the complete words
    exact: int | None  # the fragment's id when it is a word of its own
    unknown: list[str]


@dataclass(frozen=True)
class _Candidate:
    log_prob: float  # given what was typed
    parent: Key  # the prefix the word follows
    word: int
    stem: str  # the query before the word
    shown: str  # the word as shown: what the user typed of it is kept as typed

    @property
    def text(self) -> str:  # the whole query after accepting it
        return self.stem + self.shown


class Completer:
    """Suggests words and phrases from a word-level `rnnkit train lm` run.

    Args:
        lm: from `rnnkit.tasks.runner.load_run`.
        int8: int8 dynamic quantization of the recurrent and output layers. Default False.
        cache_size: prefixes kept in the `StateCache`. Default 4096.
        phrase_words: words in a phrase completion, the suggested one included. Default 3.
        max_chars: the longest query accepted, None for no limit. Default 500.
        max_k: the largest ``k``, ``phrases`` and ``beam`` accepted, None for no limit.
            Default `MAX_K` (50). A server keeps both limits; the command line lifts them.
    """

    words_only = True  # TokenCompleter serves the other tokenizers

    def __init__(
        self,
        lm: LoadedLM,
        *,
        int8: bool = False,
        cache_size: int = 4096,
        phrase_words: int = 3,
        max_chars: int | None = 500,
        max_k: int | None = MAX_K,
    ) -> None:
        tok = lm.tokenizer
        if self.words_only and tok.kind != "word":
            raise ValueError(
                f"{lm.run_dir} is a {tok.kind}-level model; autocomplete suggests words: "
                "train one with data.level=word"
            )
        limits = (("phrase_words", phrase_words), ("max_chars", max_chars), ("max_k", max_k))
        for name, value in limits:
            none_ok = name != "phrase_words"
            if not (value is None and none_ok) and not _is_int(value, 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.lm, self.tokenizer = lm, tok
        self.step = StepModel(lm.model, int8=int8)
        self.cache = StateCache(cache_size)
        self.phrase_words, self.max_chars, self.max_k = phrase_words, max_chars, max_k
        special = (tok.unk_id, tok.eos_id)
        words = [(tok.token(i), i) for i in range(tok.vocab_size) if i not in special]
        if self.words_only:
            words = [(w, i) for w, i in words if any(ch.isalnum() for ch in w)]
        words.sort()
        self._sorted_words = [w for w, _ in words]
        self._sorted_ids = torch.tensor([i for _, i in words], dtype=torch.long)
        self._suggestable = torch.zeros(tok.vocab_size, dtype=torch.bool)
        self._suggestable[self._sorted_ids] = True
        self._suggestable_list = self._suggestable.tolist()
        self._banned = torch.tensor([tok.unk_id, tok.eos_id])

    def check(self, request: Request) -> Request:
        """``request`` if it can be answered, else a ValueError saying what to change."""
        if not request.text.strip():
            raise ValueError("the query is empty: give some text to complete")
        if self.max_chars is not None and len(request.text) > self.max_chars:
            raise ValueError(
                f"the query has {len(request.text)} characters; the limit is {self.max_chars}"
            )
        for name, lowest in (("k", 1), ("phrases", 0), ("beam", 1)):
            value = getattr(request, name)
            if self.max_k is not None and not _is_int(value, lowest, self.max_k):
                raise ValueError(
                    f"{name} must be an int in [{lowest}, {self.max_k}], got {value!r}"
                )
            if self.max_k is None and not _is_int(value, lowest):
                kind = "a positive" if lowest else "a non-negative"
                raise ValueError(f"{name} must be {kind} int, got {value!r}")
        if request.search not in SEARCHES:
            raise ValueError(f"search must be 'greedy' or 'beam', got {request.search!r}")
        return request

    def complete(
        self, text: str, k: int = 5, phrases: int = 3, search: Search = "greedy", beam: int = 5
    ) -> dict:
        """Suggestions for one query (see the module docstring for the result)."""
        return self.complete_batch([Request(text, k, phrases, search, beam)])[0]

    def complete_batch(self, requests: Sequence[Request]) -> list[dict]:
        """Suggestions for many queries, sharing each forward pass among them."""
        requests = [self.check(r) for r in requests]
        parsed = [self._parse(r.text) for r in requests]
        contexts = read_prefixes(self.step, self.cache, [p.context for p in parsed])
        # A fragment that is a word of its own may be complete already: read it too.
        whole = {i: (*p.context, p.exact) for i, p in enumerate(parsed) if p.exact is not None}
        read = read_prefixes(self.step, self.cache, list(whole.values())) if whole else []
        after = dict(zip(whole, read, strict=True))
        found = [
            self._candidates(r, p, contexts[i].log_probs, whole.get(i), after.get(i))
            for i, (r, p) in enumerate(zip(requests, parsed, strict=True))
        ]
        chosen = [c[: r.phrases] for r, c in zip(requests, found, strict=True)]
        phrases = self._phrases(requests, chosen)
        return [
            {
                "query": r.text,
                "words": [self._word(c) for c in cands],
                "phrases": ph,
                "unknown": p.unknown,
            }
            for r, p, cands, ph in zip(requests, parsed, found, phrases, strict=True)
        ]

    def stats(self) -> dict:
        return {"int8": self.step.int8, "cache": self.cache.stats()}

    def _parse(self, text: str) -> _Parsed:
        tok = self.tokenizer
        words = tok.words(text)
        seen = text.lower() if tok.lowercase else text
        # Inside a word: the text ends with the last token (punctuation="strip" drops symbols)
        # and that token ends with a letter or digit.
        inside = bool(words) and seen.endswith(words[-1]) and words[-1][-1].isalnum()
        fragment = words[-1] if inside else ""
        head = text[: len(text) - len(fragment)]
        # Ids as training made them: encode() never reads "<eos>" typed as text as <eos>.
        ids = tok.encode(head)
        unknown = [w for w, i in zip(tok.words(head), ids, strict=True) if i == tok.unk_id]
        exact = tok.encode(fragment) if fragment else []
        exact_id = exact[0] if len(exact) == 1 and self._suggestable_list[exact[0]] else None
        return _Parsed(head, fragment, text[len(head) :], (tok.eos_id, *ids), exact_id, unknown)

    def _candidates(
        self, r: Request, p: _Parsed, log_probs: Tensor, whole: Key | None, after
    ) -> list[_Candidate]:
        if not p.fragment:
            sep = "" if not p.head or p.head[-1].isspace() else " "
            return [
                _Candidate(lp, p.context, i, p.head + sep, self.tokenizer.token(i))
                for lp, i in self._top_words(log_probs, r.k)
            ]
        lo = bisect.bisect_left(self._sorted_words, p.fragment)
        hi = bisect.bisect_left(self._sorted_words, p.fragment + "\U0010ffff")
        if lo == hi:
            return []  # no word starts like this: nothing to suggest
        ids = self._sorted_ids[lo:hi]
        scores = log_probs[ids]
        given = scores.logsumexp(0)  # log p(the word starts with the fragment)
        top = (scores - given).topk(min(r.k, len(ids)))
        rest = len(p.fragment)
        out = [
            _Candidate(lp, p.context, i, p.head, p.typed + self.tokenizer.token(i)[rest:])
            for lp, i in zip(top.values.tolist(), ids[top.indices].tolist(), strict=True)
            if whole is None or i != whole[-1]
        ]
        if whole is not None:  # the fragment as a whole word, then what follows it
            first = float(log_probs[whole[-1]] - given)
            stem = p.head + p.typed + " "
            out += [
                _Candidate(first + lp, whole, i, stem, self.tokenizer.token(i))
                for lp, i in self._top_words(after.log_probs, r.k)
            ]
        return sorted(out, key=lambda c: -c.log_prob)[: r.k]

    def _top_words(self, log_probs: Tensor, k: int) -> list[tuple[float, int]]:
        """The k likeliest suggestable tokens as (log-prob, id). The top few usually hold the
        k words (punctuation and <eos> aside): masking all V scores is the fallback."""
        top = log_probs.topk(min(k + 8, self.tokenizer.vocab_size))
        ok = self._suggestable_list
        found = [(lp, i) for lp, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
                 if ok[i]][:k]  # fmt: skip
        if len(found) < min(k, len(self._sorted_words)):
            top = log_probs.masked_fill(~self._suggestable, float("-inf")).topk(k)
            found = [(lp, i) for lp, i in zip(top.values.tolist(), top.indices.tolist(),
                                                  strict=True) if lp > float("-inf")]  # fmt: skip
        return found

    def _word(self, c: _Candidate) -> dict:
        return {"word": self._shown(c.word), "text": c.text, "probability": math.exp(c.log_prob)}

    def _shown(self, token: int) -> str:
        return self.tokenizer.token(token)

    def _phrase(self, c: _Candidate, added: list[int], log_prob: float) -> dict:
        decoded = self.tokenizer.decode([c.word, *added])
        completion = c.shown + decoded[len(self.tokenizer.token(c.word)) :]
        return {"text": c.stem + completion, "completion": completion,
                "probability": math.exp(log_prob)}  # fmt: skip

    def _phrases(self, requests: list[Request], chosen: list[list[_Candidate]]) -> list[list]:
        """Each chosen candidate extended by up to ``phrase_words - 1`` words: the requests
        that search alike (greedy, or beam of one width) share each forward pass."""
        groups: dict[tuple[str, int], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.search, r.beam if r.search == "beam" else 1), []).append(i)
        out: list[list[dict]] = [[] for _ in requests]
        for (search, width), members in groups.items():
            flat = [c for i in members for c in chosen[i]]
            if not flat:
                continue
            if search == "beam" and self.phrase_words > 1:
                extended = self._beam(flat, width)
            else:
                extended = self._greedy(flat)
            rows = iter(extended)
            for i in members:
                out[i] = [self._phrase(c, *next(rows)) for c in chosen[i]]
                out[i].sort(key=lambda phrase: -phrase["probability"])
        return out

    def _greedy(self, flat: list[_Candidate]) -> list[tuple[list[int], float]]:
        keys = [(*c.parent, c.word) for c in flat]  # cached: accepting one is free
        start = [c.log_prob for c in flat]
        tok = self.tokenizer
        return extend_greedy(self.step, self.cache, keys, start, self.phrase_words - 1,
                             tok.unk_id, tok.eos_id)  # fmt: skip

    def _beam(self, flat: list[_Candidate], width: int) -> list[tuple[list[int], float]]:
        parents, words = [c.parent for c in flat], [c.word for c in flat]
        start = [c.log_prob for c in flat]
        n = self.phrase_words - 1
        return extend_beam(self.step, self.cache, parents, words, start, n, width, self._banned)


class TokenCompleter(Completer):
    """The `Completer` of character and BPE runs, which have no words to complete: the whole
    text is context (no fragment), ``words`` are the k likeliest next tokens (never ``<unk>``
    or ``<eos>``) and phrases extend the best of them by up to ``phrase_words - 1`` tokens.
    A BPE token is shown as the text it makes (byte-level BPE spells a space "Ġ")."""

    words_only = False

    def _parse(self, text: str) -> _Parsed:
        ids = self.tokenizer.encode(text)
        return _Parsed(text, "", "", (self.tokenizer.eos_id, *ids), None, self._unknown(text, ids))

    def _candidates(self, r: Request, p: _Parsed, log_probs: Tensor, *_: Any) -> list[_Candidate]:
        return [
            _Candidate(lp, p.context, i, p.head, self.tokenizer.decode([i]))
            for lp, i in self._top_words(log_probs, r.k)
        ]

    def _unknown(self, text: str, ids: list[int]) -> list[str]:
        words = getattr(self.tokenizer, "words", None)  # character runs: unknown characters
        if words is None:
            return []
        return [w for w, i in zip(words(text), ids, strict=False) if i == self.tokenizer.unk_id]

    def _shown(self, token: int) -> str:
        tok = self.tokenizer
        return tok.decode([token]).strip() if tok.kind == "bpe" else tok.token(token)

    def _phrase(self, c: _Candidate, added: list[int], log_prob: float) -> dict:
        completion = self.tokenizer.decode([c.word, *added])
        return {"text": c.stem + completion, "completion": completion,
                "probability": math.exp(log_prob)}  # fmt: skip


def completer(lm: LoadedLM, **options: Any) -> Completer:
    """The `Completer` of ``lm``: word suggestions for a word-level run, next tokens
    (`TokenCompleter`) for a character or BPE run. ``options``: see `Completer`."""
    return (Completer if lm.tokenizer.kind == "word" else TokenCompleter)(lm, **options)


def _is_int(value: object, lowest: int, highest: int | None = None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        return False
    return highest is None or value <= highest
