"""Pieces every topology shares: outputs, masks, state surgery, losses, input and state maps.

Shapes: N batch, T time, I input features, E embedding, H hidden, D directions, L layers,
C classes, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers import Kind, State
from rnnkit.models.checks import (
    IGNORE_INDEX,
    check_class_targets,
    check_features,
    check_positive_int,
    check_sequence_targets,
    check_tokens,
)


class RecurrentOutput(NamedTuple):
    """The ``output`` of a model that carries its state across calls (truncated BPTT).

    logits: (N, T, V) scores for the next token at every step.
    state: the recurrent state after each sequence's last valid step; feed it back as
        ``state=`` on the next chunk (after `rnnkit.layers.detach_state` when training).
    """

    logits: Tensor
    state: State


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode (no dropout, batch norm's running statistics) inside the
    block, and back in the mode it was in after it, whatever happens inside."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def length_mask(lengths: Tensor, T: int) -> Tensor:
    """(N, T) bool, True at the valid steps ``t < lengths[n]``."""
    steps = torch.arange(T, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def select_state(state: State | None, index: Tensor) -> State | None:
    """Pick (and repeat) batch rows of a recurrent state: ``state[:, index]`` in each part.

    Beam search uses it to expand a batch into beams and to follow the surviving beams.
    """
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(part.index_select(1, index) for part in state)  # type: ignore[return-value]
    return state.index_select(1, index)


def flatten_state(state: State) -> Tensor:
    """(L*D, N, H), or (h, c), -> (N, parts*L*D*H): every layer and direction side by side."""
    parts = state if isinstance(state, tuple) else (state,)
    return torch.cat([part.transpose(0, 1).reshape(part.shape[1], -1) for part in parts], dim=1)


def classification_loss(logits: Tensor, targets: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean cross-entropy of (N, C) logits against (N,) class ids, optionally class-weighted."""
    check_class_targets(targets, logits.shape[0], logits.shape[1])
    return F.cross_entropy(logits, targets, weight=weight)


def regression_loss(output: Tensor, targets: Tensor) -> Tensor:
    """Mean squared error of (N, O) predictions against (N, O) targets ((N,) when O = 1)."""
    if targets.dim() == 1 and output.shape[1] == 1:
        targets = targets.unsqueeze(1)
    if targets.shape != output.shape or not targets.is_floating_point():
        raise ValueError(
            f"targets must be (N, O) floats with N={output.shape[0]}, O={output.shape[1]}, "
            f"got {targets.dtype} of shape {tuple(targets.shape)}"
        )
    return F.mse_loss(output, targets.to(output.dtype))


def sequence_loss(
    logits: Tensor,
    targets: Tensor,
    lengths: Tensor | None = None,
    weight: Tensor | None = None,
) -> Tensor:
    """Mean cross-entropy per valid step of (N, T, V) logits against (N, T) ids.

    Steps whose target is -100, or at or past ``lengths[n]`` when lengths are given, are
    left out of both the sum and the count.
    """
    N, T, V = logits.shape
    check_sequence_targets(targets, N, T, V)
    if lengths is not None:
        targets = targets.masked_fill(~length_mask(lengths.to(targets.device), T), IGNORE_INDEX)
    return F.cross_entropy(
        logits.reshape(N * T, V), targets.reshape(N * T), weight=weight, ignore_index=IGNORE_INDEX
    )


def class_weights_tensor(
    weights: Sequence[float] | Tensor | None, num_classes: int
) -> Tensor | None:
    """(C,) float weights for cross-entropy, checked; None stays None (all classes equal)."""
    if weights is None:
        return None
    weights = torch.as_tensor(weights, dtype=torch.float32)
    if weights.shape != (num_classes,) or bool((weights < 0).any()):
        raise ValueError(
            f"class_weights must be C={num_classes} non-negative numbers, "
            f"got shape {tuple(weights.shape)}"
        )
    return weights


class InputEncoder(nn.Module):
    """The input end of a sequence model: token ids or float features -> (N, T, E) vectors.

    Give exactly one of:
        vocab_size: V; inputs are (N, T) token ids, looked up in an (V, E) embedding.
        input_size: I; inputs are (N, T, I) float features, passed through as they are, or
            through a linear projection to E when ``embedding_dim`` is given.
    embedding_dim: E; required with ``vocab_size``.
    """

    def __init__(
        self,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int | None = None,
    ) -> None:
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError(
                "give exactly one of vocab_size (token ids) or input_size (float features), "
                f"got vocab_size={vocab_size!r} and input_size={input_size!r}"
            )
        self.vocab_size, self.input_size = vocab_size, input_size
        if vocab_size is not None:
            check_positive_int("vocab_size", vocab_size)
            check_positive_int("embedding_dim", embedding_dim)
            self.embed: nn.Module = nn.Embedding(vocab_size, embedding_dim)
            self.output_size = embedding_dim
        else:
            check_positive_int("input_size", input_size)
            if embedding_dim is None:
                self.embed, self.output_size = nn.Identity(), input_size
            else:
                check_positive_int("embedding_dim", embedding_dim)
                self.embed, self.output_size = nn.Linear(input_size, embedding_dim), embedding_dim

    def forward(self, inputs: Tensor) -> Tensor:
        if self.vocab_size is not None:
            check_tokens(inputs, self.vocab_size)
        else:
            check_features(inputs, 3, self.input_size)
        return self.embed(inputs)


class InitialState(nn.Module):
    """A vector sets a recurrent state: (N, F) -> tanh(linear) -> (L, N, H), or (h, c).

    The one-to-many generator maps its conditioning vector with it, and seq2seq maps the
    flattened final encoder state (which lets a bidirectional or differently sized encoder
    start a unidirectional decoder). The LSTM cell state goes through the same squashing.
    """

    def __init__(self, in_features: int, kind: Kind, num_layers: int, hidden_size: int) -> None:
        super().__init__()
        self.parts = 2 if kind == "lstm" else 1
        self.num_layers, self.hidden_size = num_layers, hidden_size
        self.linear = nn.Linear(in_features, self.parts * num_layers * hidden_size)

    def forward(self, vector: Tensor) -> State:
        N = vector.shape[0]
        states = torch.tanh(self.linear(vector))
        # (N, parts*L*H) -> (parts, L, N, H); contiguous because cuDNN wants it so.
        states = states.view(N, self.parts, self.num_layers, self.hidden_size)
        states = states.permute(1, 2, 0, 3).contiguous()
        return (states[0], states[1]) if self.parts == 2 else states[0]
