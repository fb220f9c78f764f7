"""Many-to-many, aligned: one label per input step (part-of-speech tags, running parity).

Shapes: N batch, T time, I input features, H hidden, D directions, C classes (tags).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from rnnkit.layers import Kind
from rnnkit.models.blocks import SequenceEncoder
from rnnkit.models.checks import check_positive_int
from rnnkit.models.common import class_weights_tensor, sequence_loss


class SequenceTagger(nn.Module):
    """Inputs -> Recurrent encoder (bidirectional allowed) -> dropout -> linear head per step.

    Args:
        num_tags: C.
        vocab_size / input_size / embedding_dim: the inputs, as in `SequenceClassifier`.
        kind: default ``"lstm"``. hidden_size: H, default 64. num_layers: L, default 1.
        bidirectional: D = 2; each step's label then sees the whole sequence. Default False.
        dropout: on the encoder outputs and between stacked layers. Default 0.
        class_weights: C non-negative weights for the cross-entropy. Default None (equal).

    Call: ``logits, loss = model(inputs, targets=None, lengths=None)``
        targets: (N, T) tag ids; steps holding -100, or at or past ``lengths``, are left out
        of the loss. logits: (N, T, C). loss: mean cross-entropy per valid step, or None.
    """

    def __init__(
        self,
        num_tags: int,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int | None = None,
        kind: Kind = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        class_weights: Sequence[float] | Tensor | None = None,
    ) -> None:
        check_positive_int("num_tags", num_tags)
        super().__init__()
        args = (vocab_size, input_size, embedding_dim, kind, hidden_size, num_layers)
        self.encoder = SequenceEncoder(*args, bidirectional=bidirectional, dropout=dropout)
        self.head = nn.Linear(self.encoder.output_size, num_tags)
        self.register_buffer("class_weights", class_weights_tensor(class_weights, num_tags))
        self.num_tags = num_tags

    def forward(
        self, inputs: Tensor, targets: Tensor | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        out, _, lengths = self.encoder(inputs, lengths)
        logits = self.head(out)  # (N, T, C)
        if targets is None:
            return logits, None
        return logits, sequence_loss(logits, targets, lengths, self.class_weights)
