"""Images read row by row for sequence classification: one row of pixels per time step.

`load_digits_rows` is scikit-learn's bundled 8x8 digits (offline, with a fixed stratified
split); `load_mnist_rows` reads the four MNIST IDX files (`read_idx`) from a folder, or
downloads them once into the cache folder, checked by MD5 against the published digests.
Every problem a user can fix is a one-line ValueError that names the file and what to do.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnkit.data.registry import MNIST_URL, dataset
from rnnkit.data.remote import default_cache_dir, download

__all__ = [
    "IDX_IMAGES",
    "IDX_LABELS",
    "ImageRows",
    "load_digits_rows",
    "load_mnist_rows",
    "read_idx",
]


@dataclass(frozen=True)
class ImageRows:
    """Images read row by row: one row of pixels per time step.

    ``train_x`` and ``test_x`` are (N, T, I) float32 in [0, 1] (T rows of I pixels);
    ``train_y`` and ``test_y`` are (N,) int64 class ids that index into ``classes``.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]


def load_digits_rows(test_fraction: float = 0.2, seed: int = 0) -> ImageRows:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download) as rows: T=8, I=8.

    Pixel values 0..16 are scaled to [0, 1]; classes are "0".."9". The split is fixed:
    ``sklearn.model_selection.train_test_split(test_size=test_fraction, random_state=seed,
    stratify=labels)``, so with the defaults (0.2, seed 0) every run and every benchmark
    sees the same 1,437 training and 360 test images, in the same order.
    """
    if isinstance(test_fraction, bool) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    # Imported here: scikit-learn takes a second to import, and only this loader needs it.
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.from_numpy(digits.images / 16.0).float()  # (1797, 8, 8)
    labels = torch.from_numpy(digits.target).long()  # (1797,)
    train, test = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    train, test = torch.from_numpy(train), torch.from_numpy(test)
    classes = [str(d) for d in range(10)]
    return ImageRows(images[train], labels[train], images[test], labels[test], classes)


# ---- MNIST: IDX files -----------------------------------------------------------------------

# The four files, each downloaded as NAME.gz (declared with their MD5s in the registry).
MNIST_FILES = tuple(remote.filename.removesuffix(".gz") for remote in dataset("mnist").files)
# IDX magic numbers: two zero bytes, the type (0x08: unsigned bytes), the number of dimensions.
IDX_IMAGES, IDX_LABELS = 0x0803, 0x0801  # 2051, 2049


def read_idx(path: str | Path, magic: int) -> torch.Tensor:
    """The unsigned-byte array of an IDX file (gzipped or not), as a uint8 tensor.

    ``magic`` is the expected magic number: `IDX_IMAGES` (2051, shape (N, rows, columns)) or
    `IDX_LABELS` (2049, shape (N,)). Sizes in the header are big-endian 32-bit ints.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read {path} ({e.strerror})") from e
    if data[:2] == b"\x1f\x8b":  # the gzip magic: decide by content, not by the file's name
        try:
            data = gzip.decompress(data)
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            raise ValueError(f"{path} is a damaged gzip file ({e}); replace it") from e
    ndim = magic & 0xFF
    header = 4 + 4 * ndim  # the magic number, then one size per dimension
    found = int.from_bytes(data[:4], "big")
    if len(data) >= 4 and found != magic:
        raise ValueError(
            f"{path} is not the IDX file expected here: magic number {found}, expected {magic}"
        )
    if len(data) < header:
        raise ValueError(f"{path} is truncated: {len(data)} bytes, shorter than an IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    size = int(np.prod(shape))
    if len(data) - header != size:
        raise ValueError(
            f"{path} is truncated or damaged: {len(data) - header} bytes of data, expected "
            f"{size} for shape {shape}; replace it"
        )
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)


def load_mnist_rows(
    folder: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    offline: bool = False,
) -> ImageRows:
    """MNIST as rows: 60,000 training and 10,000 test images, T=28, I=28, pixels / 255.

    ``folder`` holds the four files of `MNIST_FILES`, each gzipped (``.gz``) or not. With
    ``folder=None``, the folder ``mnist`` of ``cache_dir`` (default `default_cache_dir`) is
    used, and missing files are downloaded there from `MNIST_URL` unless ``offline``.
    Classes are "0".."9" (one per label value up to the largest).
    """
    if folder is None:
        folder = _mnist_cache(
            Path(cache_dir) if cache_dir is not None else default_cache_dir(), offline
        )
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ValueError(f"no such folder: {folder}; give the folder of the four MNIST files")
    parts = []
    for name in MNIST_FILES:
        path = _present(folder, name)
        if path is None:
            raise ValueError(
                f"{folder} has no {name} (or {name}.gz); an MNIST folder holds the four files "
                f"{', '.join(MNIST_FILES)}, gzipped or not"
            )
        parts.append(read_idx(path, IDX_IMAGES if "images" in name else IDX_LABELS))
    train_x, train_y, test_x, test_y = parts
    for images, labels, split in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if len(images) != len(labels):
            raise ValueError(
                f"{folder}: {len(images)} {split} images but {len(labels)} labels; "
                "the files do not belong together"
            )
    classes = [str(c) for c in range(int(torch.cat([train_y, test_y]).max()) + 1)]
    train_x, test_x = train_x.float() / 255.0, test_x.float() / 255.0  # (N, 28, 28)
    return ImageRows(train_x, train_y.long(), test_x, test_y.long(), classes)


def _present(folder: Path, name: str) -> Path | None:
    return next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)


def _mnist_cache(cache: Path, offline: bool) -> Path:
    """The cache's MNIST folder, with the files it lacks downloaded (checked by MD5)."""
    folder = cache / dataset("mnist").folder
    missing = [name for name in MNIST_FILES if _present(folder, name) is None]
    if missing and offline:
        files = ", ".join(f"{name}.gz" for name in missing)
        raise ValueError(
            f"MNIST is not downloaded yet and offline is set; run once with a network "
            f"connection, or put {files} (from {MNIST_URL}) in {folder}"
        )
    remotes = {remote.filename: remote for remote in dataset("mnist").files}
    for name in missing:
        download("mnist", remotes[f"{name}.gz"], folder / f"{name}.gz")
    return folder


# ---- labeled texts --------------------------------------------------------------------------
