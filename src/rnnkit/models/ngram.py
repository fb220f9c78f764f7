"""Interpolated Kneser-Ney n-gram language model: the counting baseline a recurrent model beats.

    kn = KneserNey(order=3).fit(train_ids, vocab_size, eos_id)
    kn.perplexity(test_ids); kn.distribution(context)  # (V,) next-token probabilities

The model reads one token stream, documents separated by ``<eos>``, and treats ``<eos>`` as an
ordinary token that contexts run across, exactly as the recurrent network sees the stream.

Formulas (Chen & Goodman 1998, "interpolated Kneser-Ney", one discount per order). For the
context h of the highest order n with counts c(h w), c(h) = sum_w c(h w) and N(h) the number
of distinct tokens seen after h:

    P_n(w | h) = max(c(h w) - D_n, 0) / c(h) + D_n N(h) / c(h) * P_{n-1}(w | h')

where h' drops the oldest token of h. Lower orders k < n use the same formula with the
continuation count N1+(. h w), the number of distinct tokens seen before h w, in place of
c(h w): a word is likely in a new context when it followed many different ones, not when it
was frequent after one (the "Francisco" effect). The lowest order is interpolated with the
uniform distribution 1 / V, so every token of the vocabulary, seen in training or not, has a
non-zero probability. A context seen at no level of the model backs off entirely to the next
lower order, and each level sums to one exactly, so all of them do.

Discounts: ``discount=None`` estimates one per order from the counts used at that order,
D = n1 / (n1 + 2 n2) with n1, n2 the numbers of n-grams counted once and twice (Ney, Essen &
Kneser 1994); with no n-gram counted once (a tiny or perfectly repetitive stream) D is 0.5,
so some probability still reaches unseen tokens. A given ``discount`` in (0, 1] is used at
every order; above 1 a token counted once would give away more than it has.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

Context = tuple[int, ...]


def _group(counts: Iterable[tuple[Context, int]]) -> dict[Context, dict[int, int]]:
    """{(h..., w): c} items -> {h: {w: c}}: the followers of each context."""
    table: dict[Context, dict[int, int]] = {}
    for gram, c in counts:
        table.setdefault(gram[:-1], {})[gram[-1]] = c
    return table


def _ney_discount(counts: Iterable[int]) -> float:
    """D = n1 / (n1 + 2 n2) (Ney, Essen & Kneser 1994); 0.5 when nothing is counted once."""
    of = Counter(counts)
    n1, n2 = of[1], of[2]
    return n1 / (n1 + 2 * n2) if n1 else 0.5


def _check_ids(ids: Sequence[int], name: str, vocab_size: int) -> list[int]:
    """``ids`` as Python ints, checked to lie in [0, vocab_size)."""
    a = np.asarray(ids)
    if a.size == 0:
        return []
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-D sequence of int token ids, got {a.dtype}")
    low, high = int(a.min()), int(a.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"{name} ids must be in [0, {vocab_size}), got {bad}")
    return a.tolist()


class KneserNey:
    """Interpolated Kneser-Ney language model over token ids (see the module docstring).

    Args:
        order: n, the tokens of an n-gram (the context is the last n - 1). Default 3.
        discount: absolute discount in (0, 1] for every order, or None (default) to estimate
            one per order as D = n1 / (n1 + 2 n2).

    After `fit`: ``vocab_size`` (V), ``eos_id`` and ``discounts`` (one per order, unigram first).
    """

    def __init__(self, order: int = 3, discount: float | None = None) -> None:
        if not isinstance(order, int) or isinstance(order, bool) or order < 1:
            raise ValueError(f"order must be a positive int, got {order!r}")
        if discount is not None and not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1] or None to estimate it, got {discount}")
        self.order, self.discount = order, discount
        self.vocab_size: int | None = None
        self.eos_id: int | None = None
        self.discounts: list[float] = []
        # Level k (index k - 1) maps a context of k - 1 tokens to {token: count}: raw counts at
        # the highest order, continuation counts below. Totals are the per-context sums.
        self._followers: list[dict[Context, dict[int, int]]] = []
        self._totals: list[dict[Context, int]] = []

    def fit(self, stream: Sequence[int], vocab_size: int, eos_id: int | None = None) -> KneserNey:
        """Count the n-grams of ``stream`` (token ids in [0, vocab_size)); returns self.

        ``eos_id`` records which token ends a document; contexts run across it (module doc).
        """
        if not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive int, got {vocab_size!r}")
        if eos_id is not None and not 0 <= eos_id < vocab_size:
            raise ValueError(f"eos_id must be in [0, {vocab_size}), got {eos_id}")
        s = _check_ids(stream, "stream", vocab_size)
        if not s:
            raise ValueError("stream is empty: fit needs at least one token")
        self.vocab_size, self.eos_id = vocab_size, eos_id
        n = self.order
        top = Counter(zip(*(s[i:] for i in range(n)), strict=False))
        levels = [top]  # counts per level, highest order first
        grams = top.keys()
        for k in range(n - 1, 0, -1):
            # N1+(. h w): each distinct (k+1)-gram (v h w) adds one left context to (h w).
            levels.append(Counter(g[1:] for g in grams))
            grams = set(zip(*(s[i:] for i in range(k)), strict=False)) if k > 1 else ()
        levels.reverse()
        self._followers = [_group(c.items()) for c in levels]
        self._totals = [{h: sum(f.values()) for h, f in level.items()} for level in self._followers]
        self.discounts = [
            self.discount if self.discount is not None else _ney_discount(c.values())
            for c in levels
        ]
        return self

    def prob(self, context: Sequence[int], token: int) -> float:
        """P(token | the last order - 1 tokens of context)."""
        h = self._context(context)
        (token,) = _check_ids([token], "token", self.vocab_size)
        return self._prob(h, token)

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """(V,) float64 probabilities of the next token after ``context``; they sum to one."""
        h = self._context(context)
        p = np.full(self.vocab_size, 1.0 / self.vocab_size)
        for k, (followers, totals, d) in enumerate(self._levels(len(h))):
            # Same recursion as _prob, over the whole vocabulary at once: mass D N(h) / c(h)
            # of the lower order, plus the discounted counts of the seen followers.
            f = followers.get(h[len(h) - k :])
            if f is None:
                continue
            c = totals[h[len(h) - k :]]
            ids = np.fromiter(f.keys(), dtype=np.int64, count=len(f))
            counts = np.fromiter(f.values(), dtype=np.float64, count=len(f))
            p *= d * len(f) / c
            p[ids] += (counts - d) / c
        return p

    def log_likelihood(self, stream: Sequence[int]) -> tuple[float, int]:
        """(sum of natural-log probabilities, number of tokens predicted) over ``stream``.

        Every token but the first is predicted from the order - 1 tokens before it (the
        first few from the shorter contexts there are), as a network reading the stream does.
        """
        self._check_fitted()
        s = _check_ids(stream, "stream", self.vocab_size)
        m = self.order - 1
        total = 0.0
        for i in range(1, len(s)):
            total += math.log(self._prob(tuple(s[max(0, i - m) : i]), s[i]))
        return total, max(len(s) - 1, 0)

    def perplexity(self, stream: Sequence[int]) -> float:
        """exp(-mean log-probability) of the tokens `log_likelihood` predicts."""
        total, count = self.log_likelihood(stream)
        if not count:
            raise ValueError("perplexity needs a stream of at least two tokens")
        return math.exp(-total / count)

    def _levels(self, context_len: int):
        """(followers, totals, discount) of the levels a context this long reaches, lowest first."""
        top = min(self.order, context_len + 1)
        return zip(self._followers[:top], self._totals[:top], self.discounts[:top], strict=True)

    def _prob(self, h: Context, token: int) -> float:
        p = 1.0 / self.vocab_size
        for k, (followers, totals, d) in enumerate(self._levels(len(h))):
            f = followers.get(h[len(h) - k :])  # the last k tokens: () at the unigram level
            if f is None:  # context never seen at this level: the lower order alone
                continue
            count = f.get(token, 0)
            p = ((count - d if count else 0.0) + d * len(f) * p) / totals[h[len(h) - k :]]
        return p

    def _context(self, context: Sequence[int]) -> Context:
        self._check_fitted()
        ids = _check_ids(context, "context", self.vocab_size)
        return tuple(ids[-(self.order - 1) :]) if self.order > 1 else ()

    def _check_fitted(self) -> None:
        if self.vocab_size is None:
            raise RuntimeError("call fit(stream, vocab_size) before using the model")
