"""The recurrent building blocks the topologies are made of.

`SequenceEncoder`  inputs -> Recurrent -> (N, T, D*H) features (classifier, tagger, seq2seq)
`TokenDecoder`     tokens -> Recurrent -> V scores, optional weight tying (LM, generator, seq2seq)
`Generative`       the step interface `rnnkit.models.decoding` drives
`ConditionalDecoder`  a decoder started from a condition, trained with teacher forcing

Shapes: N batch, T time, E embedding, H hidden, D directions, L layers, V vocabulary.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.layers import Kind, Recurrent, State
from rnnkit.models.checks import (
    check_ids,
    check_positive_int,
    check_probability,
    check_sequence_targets,
)
from rnnkit.models.common import InputEncoder, select_state


def _layer_dropout(dropout: float, num_layers: int) -> float:
    # Recurrent's own dropout acts only between stacked layers (and warns when L = 1);
    # the models apply `dropout` to the layer's outputs themselves.
    return dropout if num_layers > 1 else 0.0


class SequenceEncoder(nn.Module):
    """Token ids or float features -> `InputEncoder` -> `Recurrent` -> dropout.

    Args: see `InputEncoder` (vocab_size / input_size, embedding_dim; with token ids E
    defaults to H) and `Recurrent` (kind, hidden_size, num_layers, bidirectional).
    The directions are concatenated, so ``output_size`` is D*H. ``dropout`` acts on the
    outputs and between stacked layers.

    Call: ``out, state, lengths = encoder(inputs, lengths=None, state=None)``; out is
    (N, T, D*H) with zeros at padded steps; lengths comes back checked, as a tensor on
    out's device (or None).
    """

    def __init__(
        self,
        vocab_size: int | None,
        input_size: int | None,
        embedding_dim: int | None,
        kind: Kind,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_probability("dropout", dropout, closed=False)
        if vocab_size is not None and embedding_dim is None:
            embedding_dim = hidden_size
        self.inputs = InputEncoder(vocab_size, input_size, embedding_dim)
        self.rnn = Recurrent(
            kind,
            self.inputs.output_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=_layer_dropout(dropout, num_layers),
        )
        self.drop = nn.Dropout(dropout)
        self.output_size = self.rnn.output_size

    def forward(
        self, inputs: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State, Tensor | None]:
        x = self.inputs(inputs)  # (N, T, E)
        out, state = self.rnn(x, state, lengths)  # the layer checks lengths against N and T
        lengths = None if lengths is None else torch.as_tensor(lengths, device=out.device)
        return self.drop(out), state, lengths


class TokenDecoder(nn.Module):
    """Embedding -> unidirectional Recurrent -> dropout, plus the output layer to V scores.

    Args:
        vocab_size: V. embedding_dim: E. hidden_size: H. kind, num_layers: see `Recurrent`.
        dropout: on the embeddings, on the outputs and between stacked layers. Default 0.
        tie_weights: share the (V, E) embedding matrix with the output layer (Press & Wolf,
            2017). When H != E, a bias-free linear projection H -> E is put before the tied
            output layer rather than refusing. Default False.
        adaptive_cutoffs: use an adaptive softmax (Grave et al., 2017) with these cutoffs
            instead of a full output layer: the frequent words (ids below the first cutoff,
            as frequency-ordered vocabularies put them) get a full-size head, rarer ones
            smaller clusters. On a CPU it trains about twice as fast at V = 10,000. Cannot
            be combined with ``tie_weights``. Default None (a full output layer).

    ``run(tokens (N, T), state, lengths) -> (features (N, T, H), state)`` and
    ``logits(features (N, T, H)) -> (N, T, V)`` are kept apart so seq2seq can mix attention
    into the features in between. For inference outside ``run`` (one step at a time, ONNX):
    ``embedding`` (the (V, E) lookup), ``rnn.step_cells()`` (the one-step recurrence) and
    ``output_layer()`` (features -> scores as a module of its own), none with dropout.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        kind: Kind = "lstm",
        num_layers: int = 1,
        dropout: float = 0.0,
        tie_weights: bool = False,
        adaptive_cutoffs: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        check_probability("dropout", dropout, closed=False)
        if adaptive_cutoffs and tie_weights:
            raise ValueError("adaptive_cutoffs and tie_weights cannot be combined; choose one")
        if adaptive_cutoffs and not 0 < min(adaptive_cutoffs) <= max(adaptive_cutoffs) < vocab_size:
            raise ValueError(
                f"adaptive_cutoffs must be increasing ids in (0, V={vocab_size}), "
                f"got {adaptive_cutoffs}"
            )
        self.inputs = InputEncoder(vocab_size=vocab_size, embedding_dim=embedding_dim)
        self.rnn = Recurrent(
            kind,
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            dropout=_layer_dropout(dropout, num_layers),
        )
        self.drop = nn.Dropout(dropout)
        self.vocab_size, self.tie_weights = vocab_size, tie_weights
        if tie_weights:
            same = hidden_size == embedding_dim
            self.project: nn.Module = (
                nn.Identity() if same else nn.Linear(hidden_size, embedding_dim, bias=False)
            )
            self.out = nn.Linear(embedding_dim, vocab_size)
            self.out.weight = self.inputs.embed.weight  # one (V, E) matrix, two uses
        elif adaptive_cutoffs:
            self.project = nn.Identity()
            self.out = nn.AdaptiveLogSoftmaxWithLoss(
                hidden_size, vocab_size, list(adaptive_cutoffs), div_value=4.0
            )
        else:
            self.project = nn.Identity()
            self.out = nn.Linear(hidden_size, vocab_size)
        self.adaptive = bool(adaptive_cutoffs)

    def run(
        self, tokens: Tensor, state: State | None = None, lengths: Tensor | None = None
    ) -> tuple[Tensor, State]:
        x = self.drop(self.inputs(tokens))  # (N, T, E)
        out, state = self.rnn(x, state, lengths)
        return self.drop(out), state

    @property
    def embedding(self) -> nn.Embedding:
        """The (V, E) token embedding (no dropout): ``decoder.embedding(ids)`` is (..., E)."""
        return self.inputs.embed

    def output_layer(self) -> OutputLayer:
        """The output layer as a module of its own, sharing this decoder's weights: copy or
        quantize it without touching the decoder."""
        return OutputLayer(self.project, self.out, self.vocab_size)

    def logits(self, features: Tensor) -> Tensor:
        """(..., H) -> (..., V) scores; log-probabilities with the adaptive softmax."""
        return _scores(self.project, self.out, self.vocab_size, features)

    def log_probs(self, features: Tensor) -> Tensor:
        """(..., H) -> (..., V) log-probabilities of the next token."""
        return _log_probs(self.logits(features), self.adaptive)

    def adaptive_loss(self, features: Tensor, targets: Tensor) -> Tensor:
        """Mean negative log-likelihood of the scored targets (not -100) without the full
        (N, T, V) scores: the adaptive softmax's training path."""
        scored = targets != -100
        features = _autocast_dtype(features[scored])
        return -self.out(features, targets[scored]).output.float().mean()


class OutputLayer(nn.Module):
    """A `TokenDecoder`'s output layer on its own (from ``decoder.output_layer()``).

    Call: ``scores = layer(features (..., H))`` -> (..., V), log-probabilities with the
    adaptive softmax; ``layer.log_probs(features)`` -> (..., V) log-probabilities always.
    It holds the decoder's own ``project`` and ``out`` modules (no dropout).
    """

    def __init__(self, project: nn.Module, out: nn.Module, vocab_size: int) -> None:
        super().__init__()
        self.project, self.out, self.vocab_size = project, out, vocab_size
        self.adaptive = isinstance(out, nn.AdaptiveLogSoftmaxWithLoss)

    def forward(self, features: Tensor) -> Tensor:
        return _scores(self.project, self.out, self.vocab_size, features)

    def log_probs(self, features: Tensor) -> Tensor:
        return _log_probs(self(features), self.adaptive)


def _scores(project: nn.Module, out: nn.Module, V: int, features: Tensor) -> Tensor:
    """(..., H) -> (..., V): the output layer, full or adaptive (which gives log-probs)."""
    if isinstance(out, nn.AdaptiveLogSoftmaxWithLoss):
        flat = _autocast_dtype(features.reshape(-1, features.shape[-1]))
        return out.log_prob(flat).view(*features.shape[:-1], V)
    return out(project(features))


def _autocast_dtype(features: Tensor) -> Tensor:
    """``features`` in the autocast dtype where autocast is on for their device. torch's
    adaptive softmax fills a tensor of its input's dtype with its clusters' log-probabilities,
    which autocast computes in bf16: float32 features under autocast would not fit them."""
    device = features.device.type
    if torch.is_autocast_enabled(device):
        return features.to(torch.get_autocast_dtype(device))
    return features


def _log_probs(scores: Tensor, adaptive: bool) -> Tensor:
    return scores if adaptive else scores.log_softmax(-1)


class Generative(nn.Module):
    """A model that `rnnkit.models.decoding` can drive one token at a time.

    Subclasses hold a `TokenDecoder` as ``decoder`` and implement
    ``start(...) -> (tokens (N,), state)``, the first input tokens and state for decoding.
    ``decode(tokens (N, T), state) -> (outputs, state)``, where ``outputs[0]`` is the
    (N, T, V) logits, runs the decoder; seq2seq overrides it to add attention. `step` and
    `reorder_state` follow; a state that holds more than a recurrent state (seq2seq's
    encoder outputs) needs its own `reorder_state`.
    """

    vocab_size: int
    decoder: TokenDecoder

    def decode(self, tokens: Tensor, state: Any) -> tuple[tuple[Tensor, ...], Any]:
        features, state = self.decoder.run(tokens, state)
        return (self.decoder.logits(features),), state

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One decoding step: tokens (N,) ids -> (logits (N, V), next state)."""
        check_ids("tokens", tokens, 1, self.vocab_size, f"(N,) token ids with V={self.vocab_size}")
        outputs, state = self.decode(tokens.unsqueeze(1), state)
        return outputs[0][:, 0], state

    def reorder_state(self, state: Any, index: Tensor) -> Any:
        """Batch rows ``index`` (N',) of a state: expands a batch into beams, follows beams."""
        return select_state(state, index)


class ConditionalDecoder(Generative):
    """A `TokenDecoder` started from a condition and trained with teacher forcing.

    Args:
        decoder: the `TokenDecoder`.
        bos, eos: ids in [0, V) of the start token fed first and of the end token.
        teacher_forcing: probability, per sequence and step, of feeding the true previous
            token rather than the model's own argmax while training. Default 1.0 (always);
            evaluation with targets always uses the true tokens.
        max_length: steps decoded by ``forward`` when no targets are given. Default 50.
    """

    def __init__(
        self, decoder: TokenDecoder, bos: int, eos: int, teacher_forcing: float, max_length: int
    ) -> None:
        super().__init__()
        V = decoder.vocab_size
        for name, value in (("bos", bos), ("eos", eos)):
            if not 0 <= value < V:
                raise ValueError(f"{name} must be a token id in [0, V={V}), got {value}")
        check_probability("teacher_forcing", teacher_forcing)
        check_positive_int("max_length", max_length)
        self.decoder, self.vocab_size = decoder, V
        self.bos, self.eos = bos, eos
        self.teacher_forcing, self.max_length = teacher_forcing, max_length

    def start_tokens(self, N: int, device: torch.device) -> Tensor:
        return torch.full((N,), self.bos, dtype=torch.long, device=device)

    def unroll(self, state: Any, targets: Tensor | None, N: int) -> tuple[Tensor, ...]:
        """Decode from ``bos`` for T target steps (teacher forcing) or ``max_length`` steps.

        Returns every decode output concatenated over time; outputs[0] is (N, T, V).
        """
        device = self.decoder.out.weight.device
        if targets is not None:
            check_sequence_targets(targets, N, None, self.vocab_size)
            # -100 padding becomes id 0 as an input: the outputs after it are not scored.
            targets = targets.clamp(min=0)
        ratio = 0.0 if targets is None else (self.teacher_forcing if self.training else 1.0)
        first = self.start_tokens(N, device).unsqueeze(1)  # (N, 1)
        if ratio >= 1.0:
            # Every input is known: the whole sequence goes through the fused kernel at once.
            return self.decode(torch.cat([first, targets[:, :-1]], dim=1), state)[0]
        steps = self.max_length if targets is None else targets.shape[1]
        outputs, tokens = [], first
        for t in range(steps):
            out, state = self.decode(tokens, state)
            outputs.append(out)
            tokens = out[0].argmax(dim=-1)  # (N, 1): the model's own guess
            if ratio > 0.0:
                forced = torch.rand(N, 1, device=device) < ratio
                tokens = torch.where(forced, targets[:, t : t + 1], tokens)
        return tuple(torch.cat(parts, dim=1) for parts in zip(*outputs, strict=True))
