"""Many-to-many, unaligned: an encoder reads the source, a decoder writes the target.

Shapes: N batch, S source steps, T target steps, I source features, E embedding,
H hidden, D encoder directions, L layers, V target vocabulary.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.layers import Kind, State
from rnnkit.models.attention import SCORES, Attention
from rnnkit.models.blocks import ConditionalDecoder, SequenceEncoder, TokenDecoder
from rnnkit.models.checks import check_choice
from rnnkit.models.common import (
    InitialState,
    flatten_state,
    length_mask,
    select_state,
    sequence_loss,
)


class Seq2SeqState(NamedTuple):
    """What a decoder step needs: its own state and the encoded source."""

    hidden: State  # decoder state, (L, N, H) or (h, c)
    memory: Tensor  # (N, S, D*H) encoder outputs
    keys: Tensor | None  # attention keys precomputed from memory; None without attention
    mask: Tensor  # (N, S) True at valid source steps


class Seq2SeqOutput(NamedTuple):
    logits: Tensor  # (N, T, V)
    attention: Tensor | None  # (N, T, S) weights; None with attention="none"


class Seq2Seq(ConditionalDecoder):
    """Encoder-decoder with additive or dot-product attention, or none.

    The encoder (bidirectional allowed) reads the source; its final state, every layer and
    direction, is mapped to the decoder's initial state (tanh of a linear map). Each decoder
    step runs the decoder RNN on the previous token, attends over the encoder outputs with
    its new output h (padding masked), and predicts from tanh(W [h; context]) (Luong et
    al., 2015). With ``attention="none"`` it predicts from h: the initial state carries the
    whole source.

    Args:
        target_vocab: V, including ``bos`` and ``eos``. bos, eos: their ids.
        source_vocab: the source vocabulary when the source is (N, S) token ids, or
        input_size: I when it is (N, S, I) float features. Give exactly one.
        embedding_dim: E of both embeddings. Default 32. hidden_size: H. Default 64.
        kind: default ``"lstm"`` (encoder and decoder). num_layers: L. Default 1.
        bidirectional: a bidirectional encoder. Default False.
        attention: ``"additive"`` (default), ``"dot"`` or ``"none"``; see `Attention`.
        dropout, tie_weights, teacher_forcing, max_length: see `SequenceGenerator`.

    Call: ``output, loss = model(inputs, targets=None, lengths=None)``
        inputs: the source; lengths: (N,) source lengths, masked in attention.
        targets: (N, T) target ids, ``eos`` included, -100 at padding.
        output: ``Seq2SeqOutput(logits (N, T, V), attention (N, T, S))``; without targets
        T = max_length, decoded greedily. loss: mean cross-entropy per target token or None.

    Generation: ``tokens, state = model.start(inputs, lengths)``, then
    `rnnkit.models.decoding`; `reorder_state` carries the source along with the beams.
    """

    def __init__(
        self,
        target_vocab: int,
        bos: int,
        eos: int,
        source_vocab: int | None = None,
        input_size: int | None = None,
        embedding_dim: int = 32,
        hidden_size: int = 64,
        kind: Kind = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        attention: str = "additive",
        dropout: float = 0.0,
        tie_weights: bool = False,
        teacher_forcing: float = 1.0,
        max_length: int = 50,
    ) -> None:
        check_choice("attention", attention, (*SCORES, "none"))
        decoder = TokenDecoder(
            target_vocab, embedding_dim, hidden_size, kind, num_layers, dropout, tie_weights
        )
        super().__init__(decoder, bos, eos, teacher_forcing, max_length)
        source_embedding = embedding_dim if source_vocab is not None else None
        args = (source_vocab, input_size, source_embedding, kind, hidden_size, num_layers)
        self.encoder = SequenceEncoder(*args, bidirectional=bidirectional, dropout=dropout)
        parts = 2 if kind == "lstm" else 1
        D = self.encoder.rnn.num_directions
        self.bridge = InitialState(
            parts * num_layers * D * hidden_size, kind, num_layers, hidden_size
        )
        M = self.encoder.output_size
        self.attention = None if attention == "none" else Attention(attention, hidden_size, M)
        self.combine = None if attention == "none" else nn.Linear(hidden_size + M, hidden_size)

    def forward(
        self, inputs: Tensor, targets: Tensor | None = None, lengths: Tensor | None = None
    ) -> tuple[Seq2SeqOutput, Tensor | None]:
        _, state = self.start(inputs, lengths)
        outputs = self.unroll(state, targets, state.memory.shape[0])
        logits, weights = outputs[0], (outputs[1] if len(outputs) > 1 else None)
        loss = None if targets is None else sequence_loss(logits, targets)
        return Seq2SeqOutput(logits, weights), loss

    def start(self, inputs: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Seq2SeqState]:
        """Encode the source: the ``bos`` tokens (N,) and the decoder's first state."""
        memory, final, lengths = self.encoder(inputs, lengths)  # memory: (N, S, D*H)
        N, S = memory.shape[:2]
        if lengths is None:
            mask = torch.ones(N, S, dtype=torch.bool, device=memory.device)
        else:
            mask = length_mask(lengths.to(memory.device), S)
        keys = None if self.attention is None else self.attention.keys(memory)
        hidden = self.bridge(flatten_state(final))
        return self.start_tokens(N, memory.device), Seq2SeqState(hidden, memory, keys, mask)

    def decode(
        self, tokens: Tensor, state: Seq2SeqState
    ) -> tuple[tuple[Tensor, ...], Seq2SeqState]:
        features, hidden = self.decoder.run(tokens, state.hidden)  # (N, T, H)
        state = state._replace(hidden=hidden)
        if self.attention is None:
            return (self.decoder.logits(features),), state
        context, weights = self.attention(features, state.memory, state.keys, state.mask)
        mixed = torch.tanh(self.combine(torch.cat([features, context], dim=-1)))
        return (self.decoder.logits(mixed), weights), state

    def reorder_state(self, state: Seq2SeqState, index: Tensor) -> Seq2SeqState:
        """Rows ``index`` of the decoder state and, with them, of the encoded source."""
        keys = None if state.keys is None else state.keys[index]
        hidden = select_state(state.hidden, index)
        return Seq2SeqState(hidden, state.memory[index], keys, state.mask[index])
