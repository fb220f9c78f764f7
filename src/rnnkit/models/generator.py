"""One-to-many: a vector in, a sequence out (captioning, music from a seed, counting).

Shapes: N batch, F condition features, T time, E embedding, H hidden, L layers, V vocabulary.
"""

from __future__ import annotations

from torch import Tensor

from rnnkit.layers import Kind, State
from rnnkit.models.blocks import ConditionalDecoder, TokenDecoder
from rnnkit.models.checks import check_features, check_positive_int
from rnnkit.models.common import InitialState, sequence_loss


class SequenceGenerator(ConditionalDecoder):
    """A condition vector sets the initial state through a linear map; a sequence is decoded.

    The condition can be image features, a one-hot class or a latent code: it becomes the
    decoder's initial state (tanh of a linear map, every layer; h and c for the LSTM), and
    the decoder starts from ``bos``.

    Args:
        condition_size: F.
        vocab_size: V, including ``bos`` and ``eos``.
        bos, eos: token ids of the start and end tokens.
        embedding_dim: E. Default 32. hidden_size: H. Default 64.
        kind: default ``"gru"``. num_layers: L, default 1.
        dropout: on embeddings, outputs and between layers. Default 0.
        tie_weights: share the embedding with the output layer (see `TokenDecoder`).
        teacher_forcing: probability of feeding the true previous token in training.
            Default 1.0. max_length: steps decoded without targets. Default 50.

    Call: ``logits, loss = model(inputs, targets=None)``
        inputs: (N, F) floats. targets: (N, T) the tokens to produce, ``eos`` included,
        -100 at padding. logits: (N, T, V); without targets (N, max_length, V) decoded
        greedily. loss: mean cross-entropy per target token, None without targets.

    Generation: ``tokens, state = model.start(inputs)``, then `rnnkit.models.decoding`.
    """

    def __init__(
        self,
        condition_size: int,
        vocab_size: int,
        bos: int,
        eos: int,
        embedding_dim: int = 32,
        hidden_size: int = 64,
        kind: Kind = "gru",
        num_layers: int = 1,
        dropout: float = 0.0,
        tie_weights: bool = False,
        teacher_forcing: float = 1.0,
        max_length: int = 50,
    ) -> None:
        check_positive_int("condition_size", condition_size)
        decoder = TokenDecoder(
            vocab_size, embedding_dim, hidden_size, kind, num_layers, dropout, tie_weights
        )
        super().__init__(decoder, bos, eos, teacher_forcing, max_length)
        self.init_state = InitialState(condition_size, kind, num_layers, hidden_size)
        self.condition_size = condition_size

    def forward(
        self, inputs: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        _, state = self.start(inputs)
        (logits,) = self.unroll(state, targets, inputs.shape[0])
        loss = None if targets is None else sequence_loss(logits, targets)
        return logits, loss

    def start(self, inputs: Tensor) -> tuple[Tensor, State]:
        """(N, F) conditions -> the ``bos`` tokens (N,) and the initial state."""
        check_features(inputs, 2, self.condition_size)
        return self.start_tokens(inputs.shape[0], inputs.device), self.init_state(inputs)
