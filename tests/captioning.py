"""A tiny captioned set the caption tests make: a coloured square in one of the four
corners of a 32x32 picture, captioned with its corner ("top left", or "the top left
corner"), written as PNG files and a captions.csv; and a run trained on it in seconds."""

import csv
import json
import random

from PIL import Image

from rnnkit.tasks import runner

CORNERS = ("top left", "top right", "bottom left", "bottom right")
SIDE = 32
SMALL = ["data.image_size=[32, 32]", "model.widths=[8, 16]", "model.hidden_size=48",
         "model.embedding_dim=16", "model.dropout=0", "train.epochs=12", "train.batch_size=16",
         "train.lr=0.01", "data.val_fraction=0.125", "data.test_fraction=0.125",
         "model.beam=2"]  # fmt: skip


def corner_image(corner: str, rng: random.Random, mode: str = "RGB") -> Image.Image:
    """A dark picture with a bright square of a random colour in ``corner``."""
    image = Image.new("RGB", (SIDE, SIDE), tuple(rng.randrange(0, 40) for _ in range(3)))
    side = rng.randrange(9, 14)
    top = 1 if corner.startswith("top") else SIDE - side - 1
    left = 1 if corner.endswith("left") else SIDE - side - 1
    colour = tuple(rng.randrange(120, 256) for _ in range(3))
    image.paste(colour, (left, top, left + side, top + side))
    return image.convert(mode)


def corner_folder(folder, count: int = 96, seed: int = 0):
    """``count`` corner pictures and their captions.csv in ``folder``; returns the CSV."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "captions.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["image", "caption"])
        for i in range(count):
            corner = CORNERS[i % 4]
            corner_image(corner, rng).save(folder / f"{i:03d}.png")
            out.writerow([f"{i:03d}.png", corner.capitalize() + "."])
            out.writerow([f"{i:03d}.png", f"the {corner} corner"])
    return folder / "captions.csv"


def train_corners(folder, *overrides: str):
    """A caption run trained on `corner_folder` pictures; returns its directory."""
    data = corner_folder(folder / "pictures")
    settings = [f"data.source={json.dumps(str(data))}", *SMALL, *overrides]
    runner.train("caption", folder / "run", quiet=True, overrides=settings)
    return folder / "run"
