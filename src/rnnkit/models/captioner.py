"""One-to-many from an image: a convolutional encoder and a recurrent decoder that writes a
caption, with soft attention over the image's feature map or without.

Shapes: N batch, C image channels, H x W image, M feature channels (+ 2 coordinates),
h x w feature map, S = h*w positions, T time, E embedding, V vocabulary.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.layers import Kind, Recurrent, State
from rnnkit.models.attention import Attention
from rnnkit.models.blocks import _layer_dropout
from rnnkit.models.checks import check_choice, check_ids, check_positive_int, check_probability
from rnnkit.models.common import InitialState, select_state, sequence_loss

ATTENTION = ("soft", "none")
SUMMARY = 8  # channels per position of the summary that sets the first state


class ImageEncoder(nn.Module):
    """A small convolutional network trained from scratch: (N, C, H, W) images in [0, 1]
    become an (N, M, H / 2^k, W / 2^k) feature map (k widths, M the last) whose every
    position describes its part of the image.

    The first width is a stem, a 5x5 convolution with stride 2 (half the resolution at a
    fraction of the cost of a full-resolution block); each further width is a block of a 3x3
    convolution and 2x2 max pooling. Every convolution is followed by batch normalisation
    and a ReLU.
    """

    def __init__(self, channels: int, widths: Sequence[int] = (16, 32, 64, 128)) -> None:
        super().__init__()
        check_positive_int("channels", channels)
        if not widths:
            raise ValueError("the image encoder needs at least one width")
        for width in widths:
            check_positive_int("encoder width", width)
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 5, stride=2, padding=2,
                                             bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]  # fmt: skip
        for before, width in itertools.pairwise(widths):
            layers += [nn.Conv2d(before, width, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(2)]  # fmt: skip
        self.net = nn.Sequential(*layers)
        self.channels, self.output_size, self.blocks = channels, widths[-1], len(widths)

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != self.channels:
            raise ValueError(f"images must be (N, {self.channels}, H, W), got "
                             f"{tuple(images.shape)}")  # fmt: skip
        # channels-last runs the CPU convolutions about half as fast again
        return self.net(images.contiguous(memory_format=torch.channels_last)).contiguous()


class CaptionState(NamedTuple):
    """What a decoder step needs: its own state and the image's positions."""

    hidden: State  # (L, N, H) or (h, c)
    memory: Tensor  # (N, S, M + 2) feature map positions with their coordinates
    keys: Tensor | None  # attention keys of the memory; None without attention


class CaptionOutput(NamedTuple):
    logits: Tensor  # (N, T, V)
    attention: Tensor | None  # (N, T, S) weights over the feature map; None without


class Captioner(nn.Module):
    """Show and Tell, or Show, Attend and Tell (Vinyals et al., 2015; Xu et al., 2015).

    The encoder's feature map, each position with its (y, x) coordinates in [-1, 1] added,
    is the memory; the whole map, flattened, sets the decoder's initial state (tanh of a
    linear map: the one-to-many topology of `SequenceGenerator`; flattened rather than
    averaged, so the first state knows what is where). With ``attention="none"`` the decoder
    reads the previous word alone and predicts from its output. With ``"soft"``, at every
    word the previous state queries the memory (additive attention), the context is scaled
    by a gate sigmoid(w . h) and fed to the decoder with the previous word, and the word is
    predicted from tanh(W [h; context; word]) (the deep output of Xu et al.). The weights
    say where on the image each word looked (`grid` maps S back to h x w).

    Args:
        channels: C, 1 for grey images, 3 for colour. image_size: (H, W), the size of every
            image the model reads. vocab_size: V (``bos``, ``eos`` in it).
        widths: the encoder's blocks (see `ImageEncoder`). Default (16, 32, 64, 128).
        embedding_dim: E. Default 64. hidden_size: H. Default 256.
        kind: ``"lstm"`` (default) or ``"gru"``. num_layers: L. Default 1.
        attention: ``"soft"`` (default) or ``"none"``.
        dropout: on the word embeddings and before the output layer. Default 0.
        penalty: lambda of the doubly stochastic penalty (Xu et al.), added to the
            training loss so that every part of the image is looked at by some word:
            lambda * mean over positions of (T/S - the sum of its weights over the T words)^2.
            Xu et al. aim each sum at 1; T/S is that aim made reachable when a caption has
            fewer words than the map has positions. Default 1.
        max_length: words decoded by ``forward`` without targets. Default 30.

    Call: ``output, loss = model(inputs, targets=None)``
        inputs: (N, C, H, W) images in [0, 1]. targets: (N, T) word ids, ``eos`` included,
        -100 at padding. output: `CaptionOutput`; without targets T = max_length, greedy.
        loss: mean cross-entropy per word (plus the penalty while training), or None.

    Generation: ``tokens, state = model.start(images)``, then `rnnkit.models.decoding`.
    """

    def __init__(
        self,
        channels: int,
        image_size: tuple[int, int],
        vocab_size: int,
        bos: int,
        eos: int,
        widths: Sequence[int] = (16, 32, 64, 128),
        embedding_dim: int = 64,
        hidden_size: int = 256,
        kind: Kind = "lstm",
        num_layers: int = 1,
        attention: str = "soft",
        dropout: float = 0.0,
        penalty: float = 1.0,
        max_length: int = 30,
    ) -> None:
        super().__init__()
        check_choice("attention", attention, ATTENTION)
        for name, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim),
                            ("hidden_size", hidden_size), ("max_length", max_length)):  # fmt: skip
            check_positive_int(name, value)
        for name, value in (("bos", bos), ("eos", eos)):
            if not 0 <= value < vocab_size:
                raise ValueError(f"{name} must be a token id in [0, V={vocab_size}), got {value}")
        check_probability("dropout", dropout, closed=False)
        if not penalty >= 0:
            raise ValueError(f"penalty must be >= 0, got {penalty}")
        self.encoder = ImageEncoder(channels, widths)
        self.image_size = tuple(image_size)
        h, w = self.grid(*self.image_size)
        if h < 1 or w < 1:
            raise ValueError(f"images must be at least {2**len(widths)} pixels a side for "
                             f"{len(widths)} pooling blocks, got {self.image_size}")  # fmt: skip
        M = self.encoder.output_size + 2
        soft = attention == "soft"
        # The first state sees the whole map through a 1x1 convolution to a few channels
        # (a narrow summary: a linear map from every feature saturates the tanh).
        self.summary = nn.Conv2d(M - 2, SUMMARY, 1)
        self.init_state = InitialState(SUMMARY * h * w, kind, num_layers, hidden_size)
        self.embed = nn.Embedding(vocab_size, embedding_dim)
        inputs = embedding_dim + (M if soft else 0)
        self.rnn = Recurrent(kind, inputs, hidden_size, num_layers,
                             dropout=_layer_dropout(dropout, num_layers))  # fmt: skip
        self.attention = Attention("additive", hidden_size, M) if soft else None
        self.gate = nn.Linear(hidden_size, 1) if soft else None
        self.deep = nn.Linear(hidden_size + (M + embedding_dim if soft else 0), hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)
        self.drop = nn.Dropout(dropout)
        self.vocab_size, self.bos, self.eos = vocab_size, bos, eos
        self.penalty, self.max_length = penalty, max_length

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) of the feature map of an H x W image: S = h * w attention positions."""
        scale = 2**self.encoder.blocks
        return height // scale, width // scale

    def start(self, images: Tensor) -> tuple[Tensor, CaptionState]:
        """Encode (N, C, H, W) images: the ``bos`` tokens (N,) and the first state."""
        if tuple(images.shape[2:]) != self.image_size:
            raise ValueError(f"images must be {self.image_size[0]}x{self.image_size[1]} "
                             f"(H x W), got {tuple(images.shape[2:])}")  # fmt: skip
        features = self.encoder(images)  # (N, M, h, w)
        N, _, h, w = features.shape
        ys = torch.linspace(-1, 1, h, device=features.device).view(1, 1, h, 1).expand(N, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=features.device).view(1, 1, 1, w).expand(N, 1, h, w)
        memory = torch.cat([features, ys, xs], dim=1).flatten(2).transpose(1, 2)  # (N, S, M)
        keys = None if self.attention is None else self.attention.keys(memory)
        hidden = self.init_state(self.summary(features).flatten(1))
        tokens = torch.full((N,), self.bos, dtype=torch.long, device=features.device)
        return tokens, CaptionState(hidden, memory, keys)

    def decode(
        self, tokens: Tensor, state: CaptionState
    ) -> tuple[tuple[Tensor, Tensor | None], CaptionState]:
        """(N, T) previous words -> ((N, T, V) logits, (N, T, S) weights or None), state."""
        words = self.drop(self.embed(tokens))  # (N, T, E)
        if self.attention is None:  # every input is known: the fused kernel over all T
            outputs, hidden = self.rnn(words, state.hidden)
            logits = self.out(self.drop(torch.tanh(self.deep(outputs))))
            return (logits, None), state._replace(hidden=hidden)
        # With attention each step's input needs the previous step's state: one at a time.
        hidden, features, weights = state.hidden, [], []
        mask = torch.ones(state.memory.shape[:2], dtype=torch.bool, device=words.device)
        for t in range(tokens.shape[1]):
            query = (hidden[0] if isinstance(hidden, tuple) else hidden)[-1].unsqueeze(1)
            context, weight = self.attention(query, state.memory, state.keys, mask)
            context = context * torch.sigmoid(self.gate(query))  # (N, 1, M)
            output, hidden = self.rnn(torch.cat([words[:, t : t + 1], context], -1), hidden)
            features.append(torch.cat([output, context, words[:, t : t + 1]], -1))
            weights.append(weight)
        mixed = torch.tanh(self.deep(torch.cat(features, dim=1)))
        logits = self.out(self.drop(mixed))
        return (logits, torch.cat(weights, dim=1)), state._replace(hidden=hidden)

    def step(self, tokens: Tensor, state: CaptionState) -> tuple[Tensor, CaptionState]:
        """One word: tokens (N,) -> (logits (N, V), next state)."""
        check_ids("tokens", tokens, 1, self.vocab_size, f"(N,) token ids with V={self.vocab_size}")
        (logits, _), state = self.decode(tokens.unsqueeze(1), state)
        return logits[:, 0], state

    def reorder_state(self, state: CaptionState, index: Tensor) -> CaptionState:
        """Rows ``index`` of the decoder state and, with them, of the image's memory."""
        keys = None if state.keys is None else state.keys[index]
        return CaptionState(select_state(state.hidden, index), state.memory[index], keys)

    def forward(
        self, inputs: Tensor, targets: Tensor | None = None
    ) -> tuple[CaptionOutput, Tensor | None]:
        tokens, state = self.start(inputs)
        if targets is None:
            return self._greedy(tokens, state), None
        previous = torch.cat([tokens.unsqueeze(1), targets[:, :-1].clamp(min=0)], dim=1)
        (logits, weights), _ = self.decode(previous, state)
        loss = sequence_loss(logits, targets)
        if self.training and weights is not None and self.penalty > 0:
            scored = (targets != -100).unsqueeze(-1)  # (N, T, 1)
            looked = (weights * scored).sum(dim=1)  # (N, S): each position's share of words
            fair = scored.sum(dim=1) / weights.shape[-1]  # (N, 1): T_n / S
            loss = loss + self.penalty * (fair - looked).pow(2).mean()
        return CaptionOutput(logits, weights), loss

    def _greedy(self, tokens: Tensor, state: CaptionState) -> CaptionOutput:
        logits, weights = [], []
        for _ in range(self.max_length):
            (step_logits, weight), state = self.decode(tokens.unsqueeze(1), state)
            logits.append(step_logits)
            weights.append(weight)
            tokens = step_logits[:, 0].argmax(-1)
        return CaptionOutput(torch.cat(logits, 1),
                             None if self.attention is None else torch.cat(weights, 1))  # fmt: skip
