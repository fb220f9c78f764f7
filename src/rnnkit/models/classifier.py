"""Many-to-one: a whole sequence in, one label (or value) out: sentiment, parity, the adding
problem.

Shapes: N batch, T time, I input features, H hidden, D directions, C classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.models.blocks import SequenceEncoder
from rnnkit.models.checks import check_choice, check_positive_int
from rnnkit.models.common import (
    class_weights_tensor,
    classification_loss,
    length_mask,
    regression_loss,
)

POOLINGS = ("last", "mean", "max")


def pool(out: Tensor, lengths: Tensor | None, mode: str, num_directions: int) -> Tensor:
    """(N, T, D*H) recurrent outputs -> (N, D*H), padding ignored.

    ``"last"``: the forward direction at each sequence's last valid step and, when
    bidirectional, the backward direction at step 0, the step where it has read the whole
    sequence. ``"mean"`` / ``"max"``: over the valid steps only.
    """
    check_choice("pooling", mode, POOLINGS)
    N, T, _ = out.shape
    if lengths is None:
        lengths = torch.full((N,), T, dtype=torch.long, device=out.device)
    lengths = lengths.to(out.device)
    if mode == "last":
        last = out[torch.arange(N, device=out.device), lengths - 1]  # (N, D*H)
        if num_directions == 1:
            return last
        forward, _ = last.chunk(2, dim=-1)
        _, backward = out[:, 0].chunk(2, dim=-1)
        return torch.cat([forward, backward], dim=-1)
    valid = length_mask(lengths, T).unsqueeze(-1)  # (N, T, 1)
    if mode == "mean":
        return (out * valid).sum(dim=1) / lengths.unsqueeze(1).to(out.dtype)
    return out.masked_fill(~valid, float("-inf")).amax(dim=1)


class SequenceClassifier(nn.Module):
    """Inputs -> Recurrent encoder -> dropout -> pooling over time -> linear head.

    Args:
        num_classes: C.
        vocab_size: V when the inputs are (N, T) token ids (an embedding of ``embedding_dim``,
            default H). Give this or ``input_size``.
        input_size: I when the inputs are (N, T, I) float features (projected to
            ``embedding_dim`` when that is given, else used as they are).
        kind: ``"rnn_tanh"``, ``"rnn_relu"``, ``"lstm"`` (default) or ``"gru"``.
        hidden_size: H. Default 64.
        pooling: ``"last"`` (default), ``"mean"`` or ``"max"``; see `pool`.
        num_layers: L. Default 1.
        bidirectional: D = 2, directions concatenated. Default False.
        dropout: on the encoder outputs and between stacked layers. Default 0.
        class_weights: C non-negative weights for the cross-entropy. Default None (equal).

    Call: ``logits, loss = model(inputs, targets=None, lengths=None)``
        lengths: (N,) valid steps, any order; padding never changes a sequence's result.
        targets: (N,) class ids. logits: (N, C). loss: mean cross-entropy, None without
        targets.
    """

    def __init__(
        self,
        num_classes: int,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int | None = None,
        kind: str = "lstm",
        hidden_size: int = 64,
        pooling: str = "last",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        class_weights: Sequence[float] | Tensor | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("num_classes", num_classes)
        check_choice("pooling", pooling, POOLINGS)
        args = (vocab_size, input_size, embedding_dim, kind, hidden_size, num_layers)
        self.encoder = SequenceEncoder(*args, bidirectional=bidirectional, dropout=dropout)
        self.head = nn.Linear(self.encoder.output_size, num_classes)
        self.register_buffer("class_weights", class_weights_tensor(class_weights, num_classes))
        self.num_classes, self.pooling = num_classes, pooling

    def forward(
        self, inputs: Tensor, targets: Tensor | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        logits = self.head(self.encode(inputs, lengths))  # (N, C)
        if targets is None:
            return logits, None
        return logits, classification_loss(logits, targets, self.class_weights)

    def encode(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """(N, T) ids or (N, T, I) features -> pooled encoder features (N, D*H)."""
        out, _, lengths = self.encoder(inputs, lengths)
        return pool(out, lengths, self.pooling, self.encoder.rnn.num_directions)


class SequenceRegressor(SequenceClassifier):
    """Many-to-one regression: the classifier's encoder and pooling, O real outputs, MSE.

    Args: as `SequenceClassifier`, with ``output_size`` (O, default 1) in place of
    ``num_classes`` and no class weights.

    Call: ``prediction, loss = model(inputs, targets=None, lengths=None)``
        prediction: (N, O). targets: (N, O) floats, or (N,) when O = 1. loss: mean squared
        error, None without targets.
    """

    def __init__(self, output_size: int = 1, **encoder: Any) -> None:
        super().__init__(output_size, **encoder)

    def forward(
        self, inputs: Tensor, targets: Tensor | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        prediction = self.head(self.encode(inputs, lengths))  # (N, O)
        if targets is None:
            return prediction, None
        return prediction, regression_loss(prediction, targets)
