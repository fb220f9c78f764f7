"""A user's own captioned images: a table of captions, and images read the same way always.

    images = read_captions("photos/captions.csv")   # or a COCO .json, or the folder "photos"
    images[0].path, images[0].captions               # Path("photos/cat.png"), ["A cat.", ...]
    pixels = read_image(images[0].path, "RGB", (64, 64))   # (3, 64, 64) uint8
    pixels = read_image(upload_bytes, "L", (64, 64))        # (1, 64, 64): an upload's bytes

`read_captions` reads one of:

- a ``.csv`` file with a header naming the columns ``image`` and ``caption`` (others are
  ignored), one caption a row; an image may have several rows, and its captions are gathered
  in the order of the file, the images in the order they first appear. Image paths are
  relative to the CSV file's folder, or absolute.
- a ``.json`` file in the layout of COCO's captions: ``{"images": [{"id", "file_name"}, ...],
  "annotations": [{"image_id", "caption"}, ...]}``, the images in the order of ``images``.
  A file name is looked for beside the JSON file, then in an ``images/`` folder beside it.
- a folder holding ``captions.csv`` or ``captions.json`` (not both).

Captions lose their surrounding spaces and keep their case. Every problem is a one-line
ValueError that names the file and the line (CSV) or the entry (JSON, "images[3]").

`read_image` opens a path or the bytes of an upload with Pillow, turns it upright (the
camera's EXIF orientation), converts it to grey ("L") or colour ("RGB") whatever its mode
(transparency over black, palettes, 1-bit, 16-bit and 32-bit grey scaled to 0..255, CMYK)
and resizes it to (height, width) with bilinear filtering. An image of more than 40 megapixels
is refused before it is decoded.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from rnnkit.data.tables import check_file, read_table, read_text

__all__ = ["MAX_PIXELS", "CaptionedImage", "read_captions", "read_image"]

MAX_PIXELS = 40_000_000  # the largest image read_image decodes: 40 megapixels
MODES = {"L": 1, "RGB": 3}  # the modes read_image gives, and their channels
FILES = ("captions.csv", "captions.json")  # what a folder of captioned images holds
# what Pillow raises for a file it cannot open or decode (its plugins differ)
UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


@dataclass
class CaptionedImage:
    """An image file and its captions (one or more, in the order they were given)."""

    path: Path
    captions: list[str] = field(default_factory=list)


def read_captions(path: str | Path) -> list[CaptionedImage]:
    """The captioned images that the CSV file, COCO JSON file or folder ``path`` lists (see
    the module docstring), each image once with all its captions."""
    path = Path(path).expanduser()
    if path.is_dir():
        found = [path / name for name in FILES if (path / name).is_file()]
        if not found:
            raise ValueError(f"{path} holds neither captions.csv nor captions.json; "
                             "put the captions of its images in one of them")  # fmt: skip
        if len(found) > 1:
            raise ValueError(f"{path} holds both captions.csv and captions.json; "
                             "keep the one to use")  # fmt: skip
        path = found[0]
    give = "a .csv or COCO .json file of captions, or a folder holding captions.csv"
    path = check_file(path, (".csv", ".json"), give=give)
    images = _read_csv(path) if path.suffix.lower() == ".csv" else _read_coco(path)
    if not images:
        raise ValueError(f"{path} has no captions; give at least one captioned image")
    return images


def _read_csv(path: Path) -> list[CaptionedImage]:
    """The images of a CSV file of ``image,caption`` rows, grouped in first-seen order."""
    table = read_table(path, (".csv",))
    if not table.columns:
        raise ValueError(f"{path} is empty; give a header line naming image and caption")
    table.require("image", "caption")
    images: dict[Path, CaptionedImage] = {}
    for row in table.rows:
        where = f"{path} line {row.line}"
        name = str(row.get("image") or "").strip()
        if not name:
            raise ValueError(f"{where}: no image; give the image's path in the image column")
        caption = _caption(row.get("caption"), where)
        file = path.parent / name
        if file not in images:
            if not file.is_file():
                raise ValueError(f"{where}: {name} does not exist (image paths are relative "
                                 f"to {path.parent})")  # fmt: skip
            images[file] = CaptionedImage(file)
        images[file].captions.append(caption)
    return list(images.values())


def _read_coco(path: Path) -> list[CaptionedImage]:
    """The images of a COCO captions file, in the order of its ``images``."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} line {e.lineno} is not valid JSON ({e.msg}); fix it") from e
    if not isinstance(data, dict) or not all(
        isinstance(data.get(key), list) for key in ("images", "annotations")
    ):
        raise ValueError(f"{path} is not a COCO captions file: give an object with the lists "
                         '"images" and "annotations"')  # fmt: skip
    images: dict[int | str, tuple[str, CaptionedImage]] = {}
    for i, entry in enumerate(data["images"]):
        where = f"{path} images[{i}]"
        if not isinstance(entry, dict) or "id" not in entry or "file_name" not in entry:
            raise ValueError(f'{where}: give an object with "id" and "file_name"')
        key, name = entry["id"], entry["file_name"]
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise ValueError(f"{where}: the id {key!r} must be a number or a string")
        if key in images:
            raise ValueError(f"{where}: the id {key!r} is given twice; give each image its own")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f'{where}: "file_name" must be the path of an image')
        file = next((f for f in (path.parent / name, path.parent / "images" / name)
                     if f.is_file()), None)  # fmt: skip
        if file is None:
            raise ValueError(f"{where}: {name} does not exist (looked in {path.parent} "
                             "and in its images/ folder)")  # fmt: skip
        images[key] = (where, CaptionedImage(file))
    for j, entry in enumerate(data["annotations"]):
        where = f"{path} annotations[{j}]"
        if not isinstance(entry, dict) or "image_id" not in entry:
            raise ValueError(f'{where}: give an object with "image_id" and "caption"')
        key = entry["image_id"]
        if isinstance(key, bool) or not isinstance(key, int | str) or key not in images:
            raise ValueError(f"{where}: image_id {key!r} is not the id of any of images")
        images[key][1].captions.append(_caption(entry.get("caption"), where))
    for where, image in images.values():
        if not image.captions:
            raise ValueError(f"{where}: {image.path.name} has no caption; caption it in "
                             "annotations or take it out of images")  # fmt: skip
    return [image for _, image in images.values()]


def _caption(value: object, where: str) -> str:
    """The caption ``value`` stripped of surrounding spaces; refused when empty."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{where}: the caption is a {type(value).__name__}; give text")
    caption = (value or "").strip()
    if not caption:
        raise ValueError(f"{where}: the caption is empty; give it words or remove it")
    return caption


def read_image(
    source: str | Path | bytes,
    mode: str,
    size: tuple[int, int],
    what: str | None = None,
) -> np.ndarray:
    """The image at the path ``source``, or in the bytes ``source`` (an upload), as uint8
    pixels (C, height, width) in ``mode`` "L" (C = 1, grey) or "RGB" (C = 3), resized to
    ``size`` = (height, width). ``what`` names it in the errors (the path, or "the upload")."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'L' (grey) or 'RGB' (colour), got {mode!r}")
    if (len(size) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                                  for n in size)):  # fmt: skip
        raise ValueError(f"size must be (height, width), two whole numbers above 0, got {size!r}")
    upload = isinstance(source, bytes | bytearray | memoryview)
    what = what or ("the upload" if upload else str(source))
    opened = io.BytesIO(bytes(source)) if upload else Path(source).expanduser()
    if isinstance(opened, Path) and not opened.exists():
        raise ValueError(f"{what} does not exist; check the path")
    try:
        with warnings.catch_warnings():  # Pillow warns past 89 megapixels, refuses past 179
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        said = _reason(e).split(", could be")[0]  # "Image size (N pixels) exceeds limit ..."
        raise ValueError(f"{what} is larger than 40 megapixels ({said}); "
                         "scale it down first") from e  # fmt: skip
    except UnidentifiedImageError as e:
        raise ValueError(f"{what} is not an image Pillow can read (not a format it knows)") from e
    except UNREADABLE as e:
        raise ValueError(f"{what} is not an image Pillow can read ({_reason(e)})") from e
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ValueError(f"{what} is {width}x{height}, {width * height / 1e6:.0f} "
                             "megapixels, more than the 40 an image may have; scale it down "
                             "first")  # fmt: skip
        try:
            image.load()  # decoding: a file cut short or corrupt fails here
            converted = _to_mode(ImageOps.exif_transpose(image), mode)
        except UNREADABLE as e:
            raise ValueError(f"{what} is not an image Pillow can read ({_reason(e)})") from e
    resized = converted.resize((size[1], size[0]), Image.Resampling.BILINEAR)  # (w, h)
    pixels = np.asarray(resized, dtype=np.uint8)
    pixels = pixels[None] if mode == "L" else pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(pixels)


def _reason(error: BaseException) -> str:
    """An exception's message on one line, or its type's name when it has none."""
    return " ".join(str(error).split()) or type(error).__name__


def _to_mode(image: Image.Image, mode: str) -> Image.Image:
    """``image`` in ``mode`` ("L" or "RGB"): transparent parts over black, wide grey levels
    scaled to 0..255, grey repeated into colour, colour weighed into grey by luminance."""
    if image.mode in ("La", "RGBa"):  # premultiplied: already over black
        image = Image.fromarray(np.asarray(image)[..., :-1].squeeze(-1) if image.mode == "La"
                                else np.asarray(image)[..., :-1])  # fmt: skip
    elif image.mode in ("RGBA", "LA", "PA") or (
        image.mode in ("P", "L", "RGB", "1") and "transparency" in image.info
    ):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        over_black = rgba[..., :3] * rgba[..., 3:] / 255
        image = Image.fromarray(np.round(over_black).astype(np.uint8), "RGB")
    elif image.mode.startswith("I") or image.mode == "F":
        image = Image.fromarray(_grey_levels(np.asarray(image), image.mode), "L")
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")  # palettes, 1-bit, CMYK, YCbCr, HSV
    return image if image.mode == mode else image.convert(mode)


def _grey_levels(values: np.ndarray, kind: str) -> np.ndarray:
    """Grey levels 0..255 from 16-bit ("I;16"), 32-bit ("I") or float ("F") pixels: 16-bit
    ones by their full range; others as 8-bit when they fit, as 16-bit when they fit, as 0..1
    when float and they fit, else stretched from their least to their greatest."""
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if kind.startswith("I;16") or (low >= 0 and 255 < high <= 65535):
        scaled = values / 257
    elif low >= 0 and high <= 1 and kind == "F":
        scaled = values * 255
    elif low >= 0 and high <= 255:
        scaled = values
    else:
        scaled = (values - low) * (255 / (high - low))
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)
