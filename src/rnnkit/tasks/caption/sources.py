"""The captioned images of a caption run, split into parts (see `rnnkit.tasks.caption.task`).

``read_parts(data)`` returns the parts by name (``train``, ``val``, ``test`` and, for
numbers, ``unseen``: numbers never in training), ``about``, what ``data.json`` keeps (the
source, the image mode and size, the counts and how the parts were made), and for made
scenes ``redraw(epoch)``, the training scenes of a later epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rnnkit.data.captions import read_captions, read_image
from rnnkit.data.images import FASHION_CLASSES, idx_folder, load_idx_rows, load_mnist_rows
from rnnkit.data.scenes import fashion_scenes, number_scenes
from rnnkit.tasks.caption.task import (
    DataConfig,
    Part,
    caption_words,
    image_mode,
    image_size,
    stack,
)

# Scenes are drawn with fixed seeds, so runs with different training seeds (and benchmarks)
# meet the same scenes; the numbers kept out of training are a fixed draw as well.
SEEDS = {"train": 1, "val": 2, "test": 3, "unseen": 4}
REDRAW_SEED = 1000  # training scenes of epoch e > 0: seed 1000 + e
HELD_SEED = 0

Maker = Callable[[str, int, int], Part | None]  # make(part, count, seed)
Redraw = Callable[[int], Part]


def read_parts(data: DataConfig) -> tuple[dict[str, Part], dict[str, Any], Redraw | None]:
    """The parts, ``about``, and for made scenes ``redraw(epoch)``: that many training
    scenes made afresh from the training images (None for a captions file)."""
    mode, size = image_mode(data), image_size(data)
    about: dict[str, Any] = {"source": data.source, "mode": mode, "image_size": list(size)}
    if data.source in ("numbers", "scenes"):
        make = number_maker(data, size, about) if data.source == "numbers" else \
            fashion_maker(size)  # fmt: skip
        colour = mode == "RGB"
        counts = {"train": data.scenes, "val": data.eval_scenes, "test": data.eval_scenes,
                  "unseen": data.eval_scenes}  # fmt: skip
        parts = {name: _grey_or_colour(made, colour) for name, count in counts.items()
                 if (made := make(name, count, SEEDS[name])) is not None}  # fmt: skip

        def redraw(epoch: int) -> Part:
            return _grey_or_colour(make("train", data.scenes, REDRAW_SEED + epoch), colour)
    else:
        parts, redraw = file_parts(data, mode, size), None
    about["images"] = {name: len(part) for name, part in parts.items()}
    return parts, about, redraw


def _grey_or_colour(part: Part, colour: bool) -> Part:
    if not colour:
        return part
    return Part(part.images.expand(-1, 3, -1, -1).contiguous(), part.references)


def held_out_numbers(share: float) -> set[int]:
    """The numbers from 10 to 9999 kept out of training: a fixed draw of ``share`` of them."""
    candidates = np.arange(10, 10_000)
    rng = np.random.default_rng(HELD_SEED)
    return set(rng.choice(candidates, round(share * len(candidates)), replace=False).tolist())


def balanced(numbers: list[int]) -> list[int]:
    """``numbers`` repeated so that a uniform pick has each count of digits equally often."""
    by_length: dict[int, list[int]] = {}
    for n in numbers:
        by_length.setdefault(len(str(n)), []).append(n)
    most = max(map(len, by_length.values()))
    return [n for group in by_length.values() for n in group for _ in range(most // len(group))]


def _pools(x: torch.Tensor, y: np.ndarray, test_x: torch.Tensor,
           test_y: np.ndarray) -> dict[str, tuple[torch.Tensor, np.ndarray]]:  # fmt: skip
    """Image pools: the training images split 90/10 (a fixed draw) into training and
    validation, and the test images for the test parts."""
    order = np.random.default_rng(HELD_SEED).permutation(len(x))
    val, train = order[: len(order) // 10], order[len(order) // 10 :]
    return {"train": (x[train], y[train]), "val": (x[val], y[val]), "test": (test_x, test_y),
            "unseen": (test_x, test_y)}  # fmt: skip


def number_maker(data: DataConfig, size: tuple[int, int], about: dict) -> Maker:
    """``make(part, count, seed)`` of number scenes (see the module of the task); the
    ``unseen`` part holds only the numbers kept out of training."""
    rows = load_mnist_rows()
    pools = _pools(rows.train_x, rows.train_y.numpy(), rows.test_x, rows.test_y.numpy())
    held = held_out_numbers(data.unseen_numbers)
    seen = balanced([n for n in range(10_000) if n not in held])
    unseen = balanced(sorted(held))
    about["digits"] = {name: len(pools[name][0]) for name in ("train", "val", "test")}
    about["digits"]["images"] = rows.split
    about["unseen_numbers"] = len(held)

    def make(name: str, count: int, seed: int) -> Part | None:
        numbers = unseen if name == "unseen" else seen
        if not numbers:
            return None
        x, y = pools[name]
        scenes = number_scenes(x, y, count, seed=seed, numbers=numbers, canvas=size)
        return Part(torch.from_numpy(scenes.images).unsqueeze(1),
                    [[c] for c in scenes.captions])  # fmt: skip

    return make


def fashion_maker(size: tuple[int, int]) -> Maker:
    """``make(part, count, seed)`` of scenes of clothes; the test scenes use the data set's
    test images, and there is no ``unseen`` part."""
    rows = load_idx_rows(idx_folder("fashion-mnist"), FASHION_CLASSES)
    pools = _pools(rows.train_x, rows.train_y.numpy(), rows.test_x, rows.test_y.numpy())

    def make(name: str, count: int, seed: int) -> Part | None:
        if name == "unseen":
            return None
        x, y = pools[name]
        scenes = fashion_scenes(x, y, count, seed=seed, canvas=size)
        return Part(torch.from_numpy(scenes.images).unsqueeze(1), scenes.references)

    return make


def file_parts(data: DataConfig, mode: str, size: tuple[int, int]) -> dict[str, Part]:
    """A captions file's images, read, resized and split at random (seeded) by image."""
    items = read_captions(data.source)
    references = []
    for item in items:
        refs = [caption_words(c) for c in item.captions]
        if not all(refs):
            raise ValueError(f"{item.path}: a caption has no words (letters or digits)")
        references.append(refs)
    images = stack([read_image(item.path, mode, size) for item in items])
    N = len(items)
    n_test, n_val = round(data.test_fraction * N), round(data.val_fraction * N)
    if N - n_test - n_val < 1:
        raise ValueError(f"{data.source}: {N} images leave none to train on; add images or "
                         "lower data.val_fraction and data.test_fraction")  # fmt: skip
    order = np.random.default_rng(HELD_SEED).permutation(N)
    cuts = {"test": order[:n_test], "val": order[n_test : n_test + n_val],
            "train": order[n_test + n_val :]}  # fmt: skip
    return {name: Part(images[rows], [references[i] for i in rows])
            for name, rows in cuts.items() if len(rows)}  # fmt: skip
