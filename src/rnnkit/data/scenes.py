"""Captioned scenes made from real images: numbers written with handwritten digits.

    words = number_words(4207)     # "four thousand two hundred and seven"
    scenes = number_scenes(images, labels, count=1000, seed=0)
    scenes.images[0], scenes.captions[0]   # (64, 128) uint8 canvas, "three hundred and twelve"

`number_scenes` writes each number of 1 to 4 digits (no leading zero) left to right on a
black canvas, each digit a real handwritten one of its class drawn from the images given,
scaled by 0.75 to 1.15 and jittered up and down and sideways, so no two scenes of a number
look alike. The generator is seeded: the same images, count and seed give the same scenes.
Scenes for a test part are made from digit images never used for training ones; which
numbers each part may hold is the caller's (``numbers``), for a compositional test of
numbers never seen in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["NumberScenes", "number_scenes", "number_words"]

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen")  # fmt: skip
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
CANVAS = (64, 128)  # height, width: room for four digits at the largest size


def number_words(n: int) -> str:
    """``n`` (0 to 9,999) in British English words: "four thousand two hundred and seven"."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 9999:
        raise ValueError(f"number_words takes an int from 0 to 9999, got {n!r}")
    if n < 20:
        return ONES[n]
    thousands, hundreds, rest = n // 1000, n // 100 % 10, n % 100
    parts = []
    if thousands:
        parts.append(f"{ONES[thousands]} thousand")
    if hundreds:
        parts.append(f"{ONES[hundreds]} hundred")
    if rest:
        if rest < 20:
            below = ONES[rest]
        else:
            below = TENS[rest // 10] + (f" {ONES[rest % 10]}" if rest % 10 else "")
        parts.append(f"and {below}" if parts else below)
    return " ".join(parts)


@dataclass
class NumberScenes:
    """Canvases (N, H, W) uint8, the number on each, and its caption in words."""

    images: np.ndarray
    numbers: list[int]
    captions: list[str]


def number_scenes(
    images: np.ndarray | torch.Tensor,
    labels: Sequence[int],
    count: int,
    seed: int = 0,
    numbers: Sequence[int] | None = None,
    canvas: tuple[int, int] = CANVAS,
) -> NumberScenes:
    """``count`` scenes of numbers (drawn from ``numbers``, default any of 1 to 4 digits)
    written with the (N, 28, 28) digit ``images`` (grey levels 0 to 255, or 0 to 1) of
    classes ``labels``."""
    pixels = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    labels = np.asarray(labels)
    if pixels.ndim != 3 or len(pixels) != len(labels):
        raise ValueError(f"give (N, 28, 28) images and N labels, got {tuple(pixels.shape)} "
                         f"and {len(labels)}")  # fmt: skip
    if len(pixels) and float(pixels.max()) <= 1:  # grey levels in [0, 1], as npm's digits
        pixels = pixels * 255
    pools = {d: np.flatnonzero(labels == d) for d in range(10)}
    missing = [d for d, pool in pools.items() if not len(pool)]
    if missing:
        raise ValueError(f"no image of the digits {missing}: every digit needs one")
    rng = np.random.default_rng(seed)
    height, width = canvas
    out = np.zeros((count, height, width), np.uint8)
    chosen = []
    for i in range(count):
        if numbers is not None:
            n = int(numbers[rng.integers(len(numbers))])
        else:
            digits = int(rng.integers(1, 5))
            n = int(rng.integers(10 ** (digits - 1) if digits > 1 else 0, 10**digits))
        chosen.append(n)
        x = int(rng.integers(0, 6))
        for d in str(n):
            size = round(28 * float(rng.uniform(0.75, 1.15)))
            digit = pixels[rng.choice(pools[int(d)])][None, None]
            drawn = F.interpolate(digit, size=(size, size), mode="bilinear", align_corners=False)
            y = int(rng.integers(0, height - size + 1))
            x = min(x, width - size)
            patch = out[i, y : y + size, x : x + size]
            np.maximum(patch, drawn[0, 0].clamp(0, 255).to(torch.uint8).numpy(), out=patch)
            x += size - int(rng.integers(2, 8))  # neighbours may touch, as handwriting does
    return NumberScenes(out, chosen, [number_words(n) for n in chosen])
