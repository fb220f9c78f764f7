"""Many-to-many, aligned: a language model predicts the next token at every step.

Shapes: N batch, T time, P prompt, E embedding, H hidden, L layers, V vocabulary.
"""

from __future__ import annotations

from torch import Tensor

from rnnkit.layers import Kind, State
from rnnkit.models.blocks import Generative, TokenDecoder
from rnnkit.models.checks import check_tokens
from rnnkit.models.common import RecurrentOutput, length_mask, sequence_loss


class LanguageModel(Generative):
    """Embedding -> dropout -> Recurrent -> dropout -> output layer over the vocabulary.

    Args:
        vocab_size: V.
        embedding_dim: E. Default 64.
        hidden_size: H. Default: E.
        kind: ``"lstm"`` (default), ``"gru"``, ``"rnn_tanh"`` or ``"rnn_relu"``.
        num_layers: L. Default 1.
        dropout: on the embeddings, on the outputs and between stacked layers. Default 0.
        tie_weights: share the embedding matrix with the output layer. When H != E a
            bias-free projection H -> E goes before the tied output layer. Default False.
        adaptive_cutoffs: an adaptive softmax instead of the full output layer (see
            `TokenDecoder`). Its training forward skips the full scores: with targets,
            ``output.logits`` is None. Default None.

    Call: ``output, loss = model(inputs, targets=None, state=None, lengths=None)``
        inputs: (N, T) token ids; targets: (N, T) next tokens, -100 where not scored.
        state: the previous chunk's final state (truncated BPTT), zeros when None.
        output: ``RecurrentOutput(logits (N, T, V), state)``, state after each sequence's
        last valid step. loss: mean cross-entropy per scored step, None without targets.

    Generation: ``tokens, state = model.start(prompt)``, then `rnnkit.models.decoding`.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 64,
        hidden_size: int | None = None,
        kind: Kind = "lstm",
        num_layers: int = 1,
        dropout: float = 0.0,
        tie_weights: bool = False,
        adaptive_cutoffs: tuple[int, ...] | None = None,
    ) -> None:
        hidden_size = embedding_dim if hidden_size is None else hidden_size
        super().__init__()
        self.decoder = TokenDecoder(
            vocab_size,
            embedding_dim,
            hidden_size,
            kind,
            num_layers,
            dropout,
            tie_weights,
            adaptive_cutoffs,
        )
        self.vocab_size = vocab_size

    def forward(
        self,
        inputs: Tensor,
        targets: Tensor | None = None,
        state: State | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[RecurrentOutput, Tensor | None]:
        features, state = self.decoder.run(inputs, state, lengths)
        if self.decoder.adaptive and targets is not None:
            if lengths is not None:
                targets = targets.masked_fill(~length_mask(lengths, targets.shape[1]), -100)
            return RecurrentOutput(None, state), self.decoder.adaptive_loss(features, targets)
        logits = self.decoder.logits(features)  # (N, T, V)
        loss = None if targets is None else sequence_loss(logits, targets, lengths)
        return RecurrentOutput(logits, state), loss

    def start(self, prompt: Tensor, state: State | None = None) -> tuple[Tensor, State | None]:
        """Read a (N, P) prompt: returns its last token (N,), to be fed first, and the state
        after the P - 1 tokens before it (``state`` when P = 1)."""
        check_tokens(prompt, self.vocab_size, name="prompt")
        if prompt.shape[1] > 1:
            _, state = self.decoder.run(prompt[:, :-1], state)
        return prompt[:, -1], state
