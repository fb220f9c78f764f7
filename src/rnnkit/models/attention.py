"""Attention over encoder outputs, with padding masked out.

Shapes: N batch, T decoder steps (queries), S source steps, Q query features, M memory
features (D*H of the encoder), A attention features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.models.checks import check_choice, check_positive_int

SCORES = ("additive", "dot")


class Attention(nn.Module):
    """Scores each query against every memory step and mixes the memory by the softmax.

    ``"additive"`` (Bahdanau et al., 2015): score(q, m) = v . tanh(W_q q + W_m m).
    ``"dot"`` (Luong et al., 2015, in their "general" form): score(q, m) = q . (W_m m); the
    projection W_m lets a bidirectional encoder (M = 2H) meet an H-sized decoder.

    Args:
        kind: ``"additive"`` or ``"dot"``.
        query_size: Q. memory_size: M.
        attention_size: A, the width of the additive score's hidden layer. Default Q.

    ``keys(memory)`` is the part of the score that depends on the memory only: computed once
    per source, not once per decoder step.
    """

    def __init__(
        self, kind: str, query_size: int, memory_size: int, attention_size: int | None = None
    ) -> None:
        super().__init__()
        check_choice("attention", kind, SCORES)
        check_positive_int("query_size", query_size)
        check_positive_int("memory_size", memory_size)
        self.kind = kind
        if kind == "additive":
            A = query_size if attention_size is None else attention_size
            check_positive_int("attention_size", A)
            self.memory_proj = nn.Linear(memory_size, A, bias=False)
            self.query_proj = nn.Linear(query_size, A)
            self.v = nn.Linear(A, 1, bias=False)
        else:
            self.memory_proj = nn.Linear(memory_size, query_size, bias=False)

    def keys(self, memory: Tensor) -> Tensor:
        """(N, S, M) -> (N, S, A) for additive, (N, S, Q) for dot."""
        return self.memory_proj(memory)

    def forward(
        self, query: Tensor, memory: Tensor, keys: Tensor, mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        """query (N, T, Q), memory (N, S, M), keys from `keys`, mask (N, S) True where valid
        -> context (N, T, M), weights (N, T, S): zero at masked steps, each row sums to 1."""
        if self.kind == "additive":
            # (N, T, 1, A) + (N, 1, S, A) -> (N, T, S)
            hidden = torch.tanh(self.query_proj(query).unsqueeze(2) + keys.unsqueeze(1))
            scores = self.v(hidden).squeeze(-1)
        else:
            scores = query @ keys.transpose(1, 2)  # (N, T, Q) @ (N, Q, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = scores.softmax(dim=-1)
        return weights @ memory, weights
