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

    scenes = fashion_scenes(images, labels, count=1000, seed=0)   # Fashion-MNIST items
    scenes.images[0]        # (64, 64) uint8 canvas: two garments, side by side or one above
    scenes.references[0]    # ["a small bag to the left of a large sneaker", ... five in all]
    scenes.layouts[0]       # {"items": [8, 7], "layout": "row", "sizes": ["small", "large"],
                            #  "boxes": [[top, left, side], [top, left, side]]}

`fashion_scenes` puts two Fashion-MNIST items on a black canvas: a real image of each class,
each class drawn at random (the same one twice may happen), scaled to a side of 18 to 32
pixels, the two in a row (item a wholly left of item b) or a column (a wholly above b), half
of the scenes each, with room to spare taken up by random offsets. About a third of the
scenes have one item at least 1.35 times the side of the other, and only those say "small"
and "large". Each scene has five reference captions, always the same templates in the same
order (`ROW_TEMPLATES`, `COLUMN_TEMPLATES`), so a captioner's scores against them are
comparable from scene to scene.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "COLUMN_TEMPLATES",
    "FASHION_WORDS",
    "ROW_TEMPLATES",
    "FashionScenes",
    "NumberScenes",
    "fashion_scenes",
    "number_scenes",
    "number_words",
]

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen")  # fmt: skip
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
CANVAS = (64, 128)  # height, width: room for four digits at the largest size
FASHION_WORDS = ("t-shirt", "pair of trousers", "pullover", "dress", "coat", "sandal", "shirt",
                 "sneaker", "bag", "ankle boot")  # fmt: skip
ROW_TEMPLATES = ("{a} to the left of {b}", "{b} to the right of {a}", "{a} next to {b}",
                 "{a} and {b} side by side", "{a} on the left and {b} on the right")  # fmt: skip
COLUMN_TEMPLATES = ("{a} above {b}", "{b} below {a}", "{a} on top of {b}", "{b} under {a}",
                    "{a} at the top and {b} at the bottom")  # fmt: skip
FASHION_CANVAS = (64, 64)  # height, width: room for two items of the largest side in a line
SIDES = (18, 32)  # the smallest and the largest side of an item, in pixels
RATIO = (135, 100)  # sides at least 1.35 to 1 apart: "small" and "large"


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


@dataclass
class FashionScenes:
    """Canvases (N, H, W) uint8, the five reference captions of each (lower case), and what
    each holds: ``{"items": [class_a, class_b], "layout": "row" | "column", "sizes": [word or
    None, word or None], "boxes": [[top, left, side], [top, left, side]]}``, item a first (the
    left one of a row, the upper one of a column); classes index `FASHION_WORDS`."""

    images: np.ndarray
    references: list[list[str]]
    layouts: list[dict]


def fashion_scenes(
    images: np.ndarray | torch.Tensor,
    labels: Sequence[int],
    count: int,
    seed: int = 0,
    canvas: tuple[int, int] = FASHION_CANVAS,
) -> FashionScenes:
    """``count`` scenes of two items each, drawn from the (N, 28, 28) Fashion-MNIST
    ``images`` (grey levels 0 to 255, or floats 0 to 1) of classes ``labels`` (0 to 9).

    The same images, seed and count give the same scenes, and the first n scenes of a larger
    count are the scenes of count n. ``canvas`` (height, width) must be at least (64, 64)."""
    pixels = np.asarray(images)
    labels = np.asarray(labels)
    if pixels.ndim != 3 or labels.ndim != 1 or len(pixels) != len(labels):
        raise ValueError(f"give (N, 28, 28) images and N labels, got {pixels.shape} "
                         f"and {labels.shape}")  # fmt: skip
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0
                        or labels.max() > 9):  # fmt: skip
        raise ValueError("labels must be Fashion-MNIST class ids, ints from 0 to 9")
    counts = np.bincount(labels.astype(np.int64), minlength=10)
    missing = [f"{c} ({FASHION_WORDS[c]})" for c in range(10) if not counts[c]]
    if missing:
        raise ValueError(f"no image of the classes {', '.join(missing)}: every class needs one")
    scale = 255.0 if np.issubdtype(pixels.dtype, np.floating) and pixels.max() <= 1 else 1.0
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a whole number of scenes, 0 or more, got {count!r}")
    height, width = canvas
    if min(height, width) < 2 * SIDES[1]:
        raise ValueError(f"the canvas must be at least (64, 64) to hold two items of side "
                         f"{SIDES[1]} in a line, got {tuple(canvas)}")  # fmt: skip

    # One row of uniforms per scene, so that scenes do not depend on how many follow them.
    u = np.random.default_rng(seed).random((count, 13))
    classes = _whole(u[:, 0:2], 0, 9)
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    picks = order[starts[classes] + _whole(u[:, 2:4], 0, counts[classes] - 1)]
    column = u[:, 4] < 0.5
    sides = _sides(u[:, 5:9])
    along, across = np.where(column, height, width), np.where(column, width, height)
    first = _whole(u[:, 9], 0, along - sides[:, 0] - sides[:, 1])
    second = _whole(u[:, 10], first + sides[:, 0], along - sides[:, 1])
    sideways = _whole(u[:, 11:13], 0, across[:, None] - sides)
    lines = np.stack([first, second], axis=1)  # where a and b start along their line
    tops = np.where(column[:, None], lines, sideways)
    lefts = np.where(column[:, None], sideways, lines)

    out = np.zeros((count, height, width), np.uint8)
    for side in np.unique(sides):
        scene, item = np.nonzero(sides == side)
        for start in range(0, len(scene), 4096):  # bounded memory for any count
            rows, cols = scene[start : start + 4096], item[start : start + 4096]
            source = torch.as_tensor(pixels[picks[rows, cols]], dtype=torch.float32) * scale
            drawn = F.interpolate(source[:, None], size=(int(side), int(side)), mode="bilinear",
                                  align_corners=False)  # fmt: skip
            patches = drawn[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
            for patch, i, j in zip(patches, rows, cols, strict=True):
                y, x = tops[i, j], lefts[i, j]
                out[i, y : y + side, x : x + side] = patch

    references, layouts = [], []
    for i in range(count):
        a, b = (int(c) for c in classes[i])
        sizes = _size_words(int(sides[i, 0]), int(sides[i, 1]))
        phrases = [_with_article(FASHION_WORDS[c], s) for c, s in zip((a, b), sizes, strict=True)]
        templates = COLUMN_TEMPLATES if column[i] else ROW_TEMPLATES
        references.append([t.format(a=phrases[0], b=phrases[1]) for t in templates])
        boxes = [[int(tops[i, j]), int(lefts[i, j]), int(sides[i, j])] for j in (0, 1)]
        layout = "column" if column[i] else "row"
        layouts.append({"items": [a, b], "layout": layout, "sizes": sizes, "boxes": boxes})
    return FashionScenes(out, references, layouts)


def _size_words(side_a: int, side_b: int) -> list[str | None]:
    """["small", "large"] or ["large", "small"] for items whose sides are at least 1.35 to 1
    apart (in exact arithmetic: 27 to 20 is), else [None, None]."""
    more, less = RATIO
    if side_a * less >= side_b * more:
        return ["large", "small"]
    if side_b * less >= side_a * more:
        return ["small", "large"]
    return [None, None]


def _with_article(word: str, size: str | None) -> str:
    """ "a dress", "an ankle boot", "a small ankle boot": the article the next word takes."""
    phrase = f"{size} {word}" if size else word
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _whole(u: np.ndarray, low: np.ndarray | int, high: np.ndarray | int) -> np.ndarray:
    """Whole numbers from ``low`` to ``high`` (both included, elementwise) from uniforms ``u``."""
    return (low + np.floor(u * (np.asarray(high) - low + 1))).astype(np.int64)


def _sides(u: np.ndarray) -> np.ndarray:
    """(count, 2) sides of items a and b from four uniforms a scene: a third of the scenes
    hold a small and a large item (which one comes first drawn 50/50), the rest two whose
    sides are less than 1.35 to 1 apart."""
    low, high = SIDES
    more, less = RATIO
    contrast, flip = u[:, 0] < 1 / 3, u[:, 3] < 0.5
    # contrast: a small side, then a large one at least 1.35 times it (23 -> 32 at most)
    small = _whole(u[:, 1], low, high * less // more)
    large = _whole(u[:, 2], (small * more + less - 1) // less, high)
    # alike: any side, then one less than 1.35 times apart from it either way
    one = _whole(u[:, 1], low, high)
    near = _whole(u[:, 2], np.maximum(low, one * less // more + 1),
                  np.minimum(high, (one * more - 1) // less))  # fmt: skip
    a = np.where(contrast, np.where(flip, large, small), one)
    b = np.where(contrast, np.where(flip, small, large), near)
    return np.stack([a, b], axis=1)
