"""Where a captioner looked: each word's attention drawn over the image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def upsampled(weights: Sequence, height: int, width: int) -> np.ndarray:
    """(T, h, w) attention weights stretched (bilinear) over an H x W image, each word's
    map scaled to [0, 1]."""
    grid = torch.as_tensor(np.asarray(weights, dtype=np.float32)).unsqueeze(1)  # (T, 1, h, w)
    big = F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=False)[:, 0]
    peak = big.flatten(1).max(dim=1).values.clamp(min=1e-12)
    return (big / peak.view(-1, 1, 1)).numpy()


def plot_attention(image: np.ndarray, words: Sequence[str], weights: Sequence,
                   path: str | Path) -> None:  # fmt: skip
    """Draw the (C, H, W) uint8 ``image`` and, for each word, the image dimmed where the
    decoder did not look; into the PNG ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    C, H, W = image.shape
    picture = image[0] if C == 1 else image.transpose(1, 2, 0)
    maps = upsampled(weights, H, W)
    columns = min(len(words) + 1, 5)
    rows = -(-(len(words) + 1) // columns)
    panel = 2.2 / max(H, W)  # inches a pixel: a panel's longer side is 2.2 inches
    size = (columns * panel * W + 0.4, rows * (panel * H + 0.5))
    fig, axes = plt.subplots(rows, columns, squeeze=False, figsize=size)
    cmap = "gray" if C == 1 else None
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(picture, cmap=cmap, vmin=0, vmax=255)
    axes.flat[0].set_title(" ".join(words[:-1]) if len(words) > 1 else "", fontsize=8)
    for ax, word, heat in zip(axes.flat[1:], words, maps, strict=False):
        ax.imshow(picture, cmap=cmap, vmin=0, vmax=255)
        ax.imshow(heat, cmap="inferno", alpha=0.6, vmin=0, vmax=1)
        ax.set_title(word, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
