"""Image captioning: ``rnnkit train caption``, a convolutional encoder and an LSTM decoder.

Sources (``data.source``):

- ``numbers`` (the default): numbers of 1 to 4 digits written with real handwritten MNIST
  digits and captioned in words (`rnnkit.data.scenes.number_scenes`). The digit images are
  split three ways first, so validation and test scenes are written with digits no
  training scene uses; a tenth of the numbers from 10 to 9999 (a fixed draw) is kept out
  of training altogether, and a second test set holds only those: the compositional test.
  Each scene has 1 to 4 digits with equal chance.
- ``scenes``: two Fashion-MNIST clothes in a row or a column, five reference captions each
  (`rnnkit.data.scenes.fashion_scenes`); test scenes use the data set's test images.
- a captions file or a folder holding one (`rnnkit.data.captions.read_captions`: CSV
  ``image,caption`` or the COCO captions JSON); the images are split at random (seeded)
  into training, validation and test, every caption of an image going with it.

Images are read as grey (``L``) or colour (``RGB``, ``data.mode``) and resized to
``data.image_size``; captions are lower-cased words (`caption_words`). Training shows each
image with one of its references, drawn afresh each epoch; made scenes (numbers, scenes)
are made afresh each epoch too, from the same training images (`CaptionBatches`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from rnnkit.config import RecurrentConfig
from rnnkit.data.batching import pad_sequences
from rnnkit.data.tokenizers import Tokenizer
from rnnkit.models.captioner import Captioner
from rnnkit.models.checks import IGNORE_INDEX
from rnnkit.train.trainer import TrainConfig

VOCAB, DATA_FILE = "vocab.json", "data.json"
SIZES = {"numbers": (64, 128), "scenes": (64, 64)}  # image_size by source; files: 64x64
FOLDER_SIZE = (64, 64)


@dataclass
class DataConfig:
    source: str = "numbers"  # numbers, scenes, or a captions file (CSV, COCO JSON) or folder
    scenes: int = 34_000  # training scenes made each epoch (numbers, scenes)
    eval_scenes: int = 2_000  # scenes of the validation part and of each test set
    unseen_numbers: float = 0.1  # numbers 10..9999 kept out of training (numbers)
    mode: Literal["auto", "L", "RGB"] = "auto"  # auto: L for numbers and scenes, RGB for files
    image_size: list[int] = field(default_factory=list)  # [H, W]; empty: the source's own
    val_fraction: float = 0.1  # of a file's images
    test_fraction: float = 0.1
    max_words: int = 30  # longest caption decoded

    def __post_init__(self) -> None:
        if self.image_size and (len(self.image_size) != 2 or min(self.image_size) < 16):
            raise ValueError(f"data.image_size must be [height, width], each at least 16, got "
                             f"{self.image_size}")  # fmt: skip
        for name in ("scenes", "eval_scenes", "max_words"):
            if getattr(self, name) < 1:
                raise ValueError(f"data.{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.unseen_numbers < 1:
            raise ValueError(f"data.unseen_numbers must be in [0, 1), got {self.unseen_numbers}")


@dataclass
class ModelConfig(RecurrentConfig):
    kind: Literal["lstm", "gru"] = "lstm"
    hidden_size: int = 256
    embedding_dim: int = 64
    widths: list[int] = field(default_factory=lambda: [16, 32, 64, 128])  # encoder blocks
    attention: Literal["soft", "none"] = "soft"
    penalty: float = 1.0  # the doubly stochastic attention penalty's lambda
    dropout: float = 0.1
    beam: int = 3  # beam size of the test captions and of `caption` by default
    length_alpha: float = 0.0  # GNMT length penalty of beam search


def _train_defaults() -> TrainConfig:
    return TrainConfig(epochs=6, batch_size=64, lr=3e-3, schedule="cosine", clip_norm=5.0,
                       log_every=50, checkpoint_every=500)  # fmt: skip


@dataclass
class CaptionConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=_train_defaults)


@dataclass
class Part:
    """Images (N, C, H, W) uint8 and each one's reference captions (normalised words)."""

    images: torch.Tensor
    references: list[list[str]]

    def __len__(self) -> int:
        return len(self.images)


def caption_words(text: str) -> str:
    """A caption as the model writes it: lower-case words (letters, digits, inner hyphens
    and apostrophes) joined by single spaces."""
    return " ".join(re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*", text.lower()))


def image_mode(data: DataConfig) -> str:
    if data.mode != "auto":
        return data.mode
    return "L" if data.source in SIZES else "RGB"


def image_size(data: DataConfig) -> tuple[int, int]:
    if data.image_size:
        return int(data.image_size[0]), int(data.image_size[1])
    return SIZES.get(data.source, FOLDER_SIZE)


def words_of(vocab: Tokenizer, ids: list[int]) -> str:
    """The caption of generated ids: the words before the first ``eos``."""
    if vocab.eos_id in ids:
        ids = ids[: ids.index(vocab.eos_id)]
    return vocab.decode(ids)


def to_model(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> floats in [0, 1], as the model reads them."""
    return images.float().div_(255)


class CaptionBatches:
    """Batches of images and one reference each: ``inputs`` (N, C, H, W) in [0, 1] and
    ``targets`` (N, T) word ids with ``eos``, -100 at padding. Shuffled, and a reference
    drawn per scene, from a generator seeded by the epoch, so a resumed run sees the same
    batches; unshuffled batches show each scene's first reference.

    ``redraw(epoch)``, where given, makes the scenes of each epoch after the first afresh
    (the same count, new scenes from the same images, seeded by the epoch): generated data
    need not be shown twice the same way."""

    stateful = False

    def __init__(self, part: Part, vocab: Tokenizer, batch_size: int, seed: int = 0,
                 shuffle: bool = True,
                 redraw: Callable[[int], Part] | None = None) -> None:  # fmt: skip
        if not len(part):
            raise ValueError("no captioned images to batch")
        self.part, self.batch_size, self.seed, self.shuffle = part, batch_size, seed, shuffle
        self.vocab, self.redraw = vocab, redraw
        self.ids = self.encode(part)
        self.drawn: tuple[int, Part, list] | None = None  # the latest redrawn epoch's

    def encode(self, part: Part) -> list[list[torch.Tensor]]:
        eos = self.vocab.eos_id
        return [[torch.tensor([*self.vocab.encode(r), eos]) for r in refs]
                for refs in part.references]  # fmt: skip

    def scenes(self, epoch: int) -> tuple[Part, list[list[torch.Tensor]]]:
        """The scenes of ``epoch`` and their reference ids."""
        if self.redraw is None or epoch == 0:
            return self.part, self.ids
        if self.drawn is None or self.drawn[0] != epoch:
            part = self.redraw(epoch)
            self.drawn = (epoch, part, self.encode(part))
        return self.drawn[1], self.drawn[2]

    def __len__(self) -> int:
        return -(-len(self.part) // self.batch_size)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[dict[str, torch.Tensor]]:
        part, ids = self.scenes(epoch)
        N = len(part)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(N, generator=generator) if self.shuffle else torch.arange(N)
        picks = torch.randint(0, 1 << 30, (N,), generator=generator).tolist()
        for at in range(start * self.batch_size, N, self.batch_size):
            rows = order[at : at + self.batch_size]
            chosen = [ids[i][picks[i] % len(ids[i]) if self.shuffle else 0]
                      for i in rows.tolist()]  # fmt: skip
            targets, _ = pad_sequences(chosen, padding_value=IGNORE_INDEX)
            yield {"inputs": to_model(part.images[rows]), "targets": targets}


def build_model(config: CaptionConfig, vocab: Tokenizer, about: dict[str, Any]) -> Captioner:
    """The captioner of a run, from its config, vocabulary and ``data.json``."""
    m = config.model
    if m.beam < 1:
        raise ValueError(f"model.beam must be at least 1, got {m.beam}")
    height, width = about["image_size"]
    return Captioner(
        len(about["mode"]), (height, width), vocab.vocab_size, bos=vocab.eos_id,
        eos=vocab.eos_id, widths=m.widths, embedding_dim=m.embedding_dim,
        hidden_size=m.hidden_size, kind=m.kind, num_layers=m.num_layers, attention=m.attention,
        dropout=m.dropout, penalty=m.penalty, max_length=config.data.max_words + 1,
    )  # fmt: skip


def stack(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)) if images else torch.zeros(0, dtype=torch.uint8)
