"""From a generative model to tokens: greedy, sampling (temperature, top-k, top-p), beam search.

One module for every generative model (language model, one-to-many generator, seq2seq).
Each function drives a `Steppable`: ``step(tokens (N,), state) -> (logits (N, V), state)``
and ``reorder_state(state, index (N',)) -> state``. The models give the first tokens and
state with ``start(...)``::

    model.eval()  # dropout would make every step random
    tokens, state = model.start(source)
    best = beam_search(model, tokens, state, max_length=30, eos=model.eos, beam_size=4)

Results are a `Generation`: the generated ids without the start token; once a sequence
emits ``eos`` it is finished, and ``eos`` fills the rest of its row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, Protocol

import torch
from torch import Tensor

from rnnkit.models.checks import check_choice, check_positive_int

PENALTIES = ("gnmt", "power")


class Steppable(Protocol):
    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]: ...

    def reorder_state(self, state: Any, index: Tensor) -> Any: ...


class Generation(NamedTuple):
    """tokens: (N, T) ids, or (N, K, T) for beam search, best beam first.
    scores: (N,) summed log-probabilities of the chosen tokens under the model (before any
        temperature or filtering); for beam search (N, K), divided by the length penalty.
    lengths: (N,) or (N, K) tokens generated, ``eos`` included.
    """

    tokens: Tensor
    scores: Tensor
    lengths: Tensor


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the ``k`` largest logits of each row, exactly k (ties go to the lower id); the
    rest become -inf. logits: (..., V)."""
    check_positive_int("top_k", k)
    index = logits.topk(min(k, logits.shape[-1]), dim=-1).indices
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, index, True)
    return logits.masked_fill(~keep, float("-inf"))


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Nucleus filtering (Holtzman et al., 2020): keep the smallest set of most probable ids
    whose probabilities sum to at least ``p`` (always at least one); the rest become -inf."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p!r}")
    ordered, order = logits.sort(dim=-1, descending=True)
    probs = ordered.float().softmax(dim=-1)
    # Probability mass of the ids ranked above each one: an id is kept while that is < p.
    above = torch.cat([torch.zeros_like(probs[..., :1]), probs.cumsum(-1)[..., :-1]], dim=-1)
    keep_sorted = above < p
    keep_sorted[..., 0] = True
    keep = torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)
    return logits.masked_fill(~keep, float("-inf"))


def length_penalty(lengths: Tensor, alpha: float, form: str = "gnmt") -> Tensor:
    """The divisor of a hypothesis' summed log-probability in beam search.

    ``"gnmt"``: ((5 + length) / 6) ** alpha (Wu et al., 2016); ``"power"``: length ** alpha.
    alpha = 0 divides by 1 (the raw sum, which favours short outputs); a larger alpha
    favours longer ones, since it shrinks the (negative) scores of long hypotheses more.
    """
    check_choice("penalty", form, PENALTIES)
    lengths = lengths.float()
    base = (5.0 + lengths) / 6.0 if form == "gnmt" else lengths
    return base.pow(alpha)


def _check_start(tokens: Tensor, max_length: int) -> None:
    if not isinstance(tokens, Tensor) or tokens.dim() != 1 or tokens.is_floating_point():
        shape = tuple(tokens.shape) if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ValueError(f"start tokens must be (N,) integer ids, got {shape}")
    check_positive_int("max_length", max_length)


@torch.no_grad()
def _generate(
    model: Steppable,
    tokens: Tensor,
    state: Any,
    max_length: int,
    eos: int | None,
    choose: Callable[[Tensor], Tensor],
) -> Generation:
    """The loop greedy and sampling share; ``choose(logits (N, V)) -> ids (N,)``."""
    _check_start(tokens, max_length)
    N = tokens.shape[0]
    finished = torch.zeros(N, dtype=torch.bool, device=tokens.device)
    lengths = torch.zeros(N, dtype=torch.long, device=tokens.device)
    scores = torch.zeros(N, device=tokens.device)
    steps = []
    for _ in range(max_length):
        logits, state = model.step(tokens, state)
        log_probs = logits.float().log_softmax(dim=-1)
        tokens = choose(logits)
        if eos is not None:
            tokens = tokens.masked_fill(finished, eos)
        chosen = log_probs.gather(1, tokens.unsqueeze(1)).squeeze(1)
        scores += chosen.masked_fill(finished, 0.0)
        lengths += (~finished).long()
        steps.append(tokens)
        if eos is not None:
            finished |= tokens == eos
            if bool(finished.all()):
                break
    return Generation(torch.stack(steps, dim=1), scores, lengths)


def greedy(
    model: Steppable, tokens: Tensor, state: Any, max_length: int, eos: int | None = None
) -> Generation:
    """The most probable next token at every step, from start ``tokens`` (N,) and ``state``,
    for at most ``max_length`` steps or until every sequence has emitted ``eos``."""
    return _generate(model, tokens, state, max_length, eos, lambda logits: logits.argmax(-1))


def sample(
    model: Steppable,
    tokens: Tensor,
    state: Any,
    max_length: int,
    eos: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Generation:
    """Draw each next token from softmax(logits / temperature), after `top_k_filter` and
    then `top_p_filter` when given.

    temperature: > 0 sharpens (< 1) or flattens (> 1) the distribution; 0 means greedy.
    generator: a ``torch.Generator`` on the model's device, for reproducible draws.
    """
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 is greedy), got {temperature!r}")
    if top_k is not None:
        check_positive_int("top_k", top_k)
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")

    def choose(logits: Tensor) -> Tensor:
        if temperature == 0:
            return logits.argmax(-1)
        logits = logits.float() / temperature
        if top_k is not None:
            logits = top_k_filter(logits, top_k)
        if top_p is not None:
            logits = top_p_filter(logits, top_p)
        return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)

    return _generate(model, tokens, state, max_length, eos, choose)


@torch.no_grad()
def beam_search(
    model: Steppable,
    tokens: Tensor,
    state: Any,
    max_length: int,
    eos: int | None = None,
    beam_size: int = 4,
    length_alpha: float = 0.0,
    penalty: Literal["gnmt", "power"] = "gnmt",
    banned: Sequence[int] | Tensor = (),
) -> Generation:
    """Keep the ``beam_size`` (K) best hypotheses per sequence, ranked by summed
    log-probability divided by `length_penalty` (``length_alpha``, ``penalty``).
    Ids in ``banned`` (``<unk>``, say) are never chosen; the scores stay the model's own
    log-probabilities (not renormalised over the ids left).

    At every step each live hypothesis is extended by every id, a finished one (it emitted
    ``eos``) only by ``eos`` at no cost, so finished and live hypotheses compete on their
    penalised scores; the K best survive. The search stops when all K are finished or after
    ``max_length`` steps. Returns (N, K, T) tokens and (N, K) penalised scores, best first.
    With K = 1 this is greedy decoding.
    """
    _check_start(tokens, max_length)
    check_positive_int("beam_size", beam_size)
    length_penalty(tokens.new_ones(1), length_alpha, penalty)  # checks the form up front
    N, K, device = tokens.shape[0], beam_size, tokens.device
    banned = torch.as_tensor(banned, dtype=torch.long, device=device)
    rows = torch.arange(N, device=device)
    state = model.reorder_state(state, rows.repeat_interleave(K))  # (N*K) rows, beams of n
    tokens = tokens.repeat_interleave(K)
    # Only the first copy of each sequence is live at first, or the K beams would coincide.
    scores = torch.full((N, K), float("-inf"), device=device)
    scores[:, 0] = 0.0
    lengths = torch.zeros(N, K, dtype=torch.long, device=device)
    finished = torch.zeros(N, K, dtype=torch.bool, device=device)
    history = torch.zeros(N, K, 0, dtype=torch.long, device=device)
    for _ in range(max_length):
        logits, state = model.step(tokens, state)
        V = logits.shape[-1]
        log_probs = logits.float().log_softmax(-1).view(N, K, V)
        if len(banned):
            log_probs = log_probs.index_fill(-1, banned, float("-inf"))
        if eos is not None:
            stay = torch.full((V,), float("-inf"), device=device)
            stay[eos] = 0.0
            log_probs = torch.where(finished.unsqueeze(-1), stay, log_probs)
        total = scores.unsqueeze(-1) + log_probs  # (N, K, V)
        grown = lengths + (~finished).long()  # (N, K)
        ranked = total / length_penalty(grown, length_alpha, penalty).unsqueeze(-1)
        best = ranked.view(N, K * V).topk(K, dim=-1).indices  # (N, K) over beam*V + id
        beam, tokens = best // V, best % V
        scores = total.view(N, K * V).gather(1, best)
        lengths, finished = grown.gather(1, beam), finished.gather(1, beam)
        if eos is not None:
            finished |= tokens == eos
        kept = history.gather(1, beam.unsqueeze(-1).expand_as(history))  # (N, K, t)
        history = torch.cat([kept, tokens.unsqueeze(-1)], dim=-1)
        state = model.reorder_state(state, (beam + rows.unsqueeze(1) * K).view(-1))
        tokens = tokens.view(-1)
        if bool(finished.all()):
            break
    final = scores / length_penalty(lengths, length_alpha, penalty)
    final, order = final.sort(dim=-1, descending=True)
    history = history.gather(1, order.unsqueeze(-1).expand_as(history))
    return Generation(history, final, lengths.gather(1, order))
