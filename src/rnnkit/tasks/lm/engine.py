"""Autocomplete: next-word suggestions and phrase completions for what a user has typed.

    completer = Completer(load_language_model("runs/queries"), int8=True)
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

Phrases extend the best suggestions greedily by up to ``phrase_words - 1`` more words.
Suggestions are words that contain a letter or digit (no punctuation, no ``<unk>``).
Everything runs through `read_prefixes`: a prefix the cache holds costs nothing, one word
more costs one recurrent step, and all queries of a batch share each forward pass.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.tasks.lm.inference import Key, StateCache, StepModel, read_prefixes
from rnnkit.tasks.lm.use import LoadedLM

MAX_K = 50


@dataclass(frozen=True)
class Request:
    """One query: ``text`` typed so far, ``k`` word suggestions, and phrase completions of
    the best ``phrases`` of them (at most ``k``)."""

    text: str
    k: int = 5
    phrases: int = 3


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
        lm: from `rnnkit.tasks.lm.use.load_language_model`.
        int8: int8 dynamic quantization of the recurrent and output layers. Default False.
        cache_size: prefixes kept in the `StateCache`. Default 4096.
        phrase_words: words in a phrase completion, the suggested one included. Default 3.
        max_chars: the longest query accepted. Default 500.
    """

    def __init__(
        self,
        lm: LoadedLM,
        *,
        int8: bool = False,
        cache_size: int = 4096,
        phrase_words: int = 3,
        max_chars: int = 500,
    ) -> None:
        tok = lm.tokenizer
        if tok.kind != "word":
            raise ValueError(
                f"{lm.run_dir} is a {tok.kind}-level model; autocomplete suggests words: "
                "train one with data.level=word"
            )
        for name, value in (("phrase_words", phrase_words), ("max_chars", max_chars)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.lm, self.tokenizer = lm, tok
        self.step = StepModel(lm.model, int8=int8)
        self.cache = StateCache(cache_size)
        self.phrase_words, self.max_chars = phrase_words, max_chars
        words = [
            (tok.token(i), i) for i in range(tok.vocab_size) if i not in (tok.unk_id, tok.eos_id)
        ]
        words = sorted((w, i) for w, i in words if any(ch.isalnum() for ch in w))
        self._sorted_words = [w for w, _ in words]
        self._sorted_ids = torch.tensor([i for _, i in words], dtype=torch.long)
        self._suggestable = torch.zeros(tok.vocab_size, dtype=torch.bool)
        self._suggestable[self._sorted_ids] = True
        self._suggestable_list = self._suggestable.tolist()
        self._banned = torch.tensor([tok.unk_id, tok.eos_id])

    def check(self, request: Request) -> Request:
        """``request`` if it can be answered, else a ValueError saying what to change."""
        if not request.text.strip():
            raise ValueError("the query is empty: type some text")
        if len(request.text) > self.max_chars:
            raise ValueError(
                f"the query has {len(request.text)} characters; the limit is {self.max_chars}"
            )
        for name in ("k", "phrases"):
            value = getattr(request, name)
            lowest = 1 if name == "k" else 0
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not lowest <= value <= MAX_K
            ):
                raise ValueError(f"{name} must be an int in [{lowest}, {MAX_K}], got {value!r}")
        return request

    def complete(self, text: str, k: int = 5, phrases: int = 3) -> dict:
        """Suggestions for one query (see the module docstring for the result)."""
        return self.complete_batch([Request(text, k, phrases)])[0]

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
        phrases = self._phrases([c[: r.phrases] for r, c in zip(requests, found, strict=True)])
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
        return {
            "word": self.tokenizer.token(c.word),
            "text": c.text,
            "probability": math.exp(c.log_prob),
        }

    def _phrases(self, chosen: list[list[_Candidate]]) -> list[list[dict]]:
        """Each chosen candidate extended greedily by up to ``phrase_words - 1`` words."""
        flat = [c for cands in chosen for c in cands]
        if not flat:
            return [[] for _ in chosen]
        keys = [(*c.parent, c.word) for c in flat]
        entries = read_prefixes(self.step, self.cache, keys)  # cached: accepting one is free
        log_probs = torch.stack([e.log_probs for e in entries])  # (N, V)
        states = [e.state for e in entries]
        total = torch.tensor([c.log_prob for c in flat])
        added: list[list[int]] = [[] for _ in flat]
        open_ = torch.ones(len(flat), dtype=torch.bool)  # rows that have not ended
        for step in range(self.phrase_words - 1):
            # Never <unk>; <eos> ends a phrase.
            log_probs = log_probs.index_fill(1, self._banned[:1], float("-inf"))
            best, word = log_probs.max(-1)
            open_ &= word != self.tokenizer.eos_id
            total = torch.where(open_, total + best, total)
            for i in open_.nonzero().flatten().tolist():
                added[i].append(int(word[i]))
            if step == self.phrase_words - 2 or not open_.any():
                break
            log_probs, states = self.step([[int(w)] for w in word], states)
        out: list[list[dict]] = []
        rows = iter(range(len(flat)))
        for cands in chosen:
            out.append([])
            for c in cands:
                row = next(rows)
                decoded = self.tokenizer.decode([c.word, *added[row]])
                completion = c.shown + decoded[len(self.tokenizer.token(c.word)) :]
                text = c.stem + completion
                probability = float(total[row].exp())
                out[-1].append({"text": text, "completion": completion, "probability": probability})
            out[-1].sort(key=lambda phrase: -phrase["probability"])
        return out
