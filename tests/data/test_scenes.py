"""Number scenes: numbers in words, and canvases that hold each digit of the number, drawn
from the right class, reproducibly."""

import numpy as np
import pytest

from rnnkit.data.scenes import CANVAS, number_scenes, number_words


@pytest.mark.parametrize(
    ("n", "words"),
    [(0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (21, "twenty one"),
     (100, "one hundred"), (110, "one hundred and ten"), (1001, "one thousand and one"),
     (1100, "one thousand one hundred"), (2050, "two thousand and fifty"),
     (4207, "four thousand two hundred and seven"),
     (9999, "nine thousand nine hundred and ninety nine")],
)  # fmt: skip
def test_numbers_in_words(n, words):
    assert number_words(n) == words


def test_numbers_out_of_range_are_refused():
    for bad in (-1, 10_000, 3.0, True):
        with pytest.raises(ValueError, match="from 0 to 9999"):
            number_words(bad)


def digit_images():
    """One 28x28 image per digit: a bar whose height is the digit (0: a dot), so a scene's
    columns say which digits were drawn."""
    images = np.zeros((10, 28, 28), np.uint8)
    for d in range(10):
        images[d, 2 : 5 + 2 * d, 12:16] = 255
    return images, list(range(10))


def test_scenes_hold_the_number_and_its_caption_reproducibly():
    images, labels = digit_images()
    scenes = number_scenes(images, labels, count=40, seed=3)
    again = number_scenes(images, labels, count=40, seed=3)
    assert np.array_equal(scenes.images, again.images) and scenes.numbers == again.numbers
    assert scenes.images.shape == (40, *CANVAS) and scenes.images.dtype == np.uint8
    assert {len(str(n)) for n in scenes.numbers} == {1, 2, 3, 4}
    assert scenes.captions == [number_words(n) for n in scenes.numbers]
    for canvas, n in zip(scenes.images, scenes.numbers, strict=True):
        columns = (canvas > 0).any(axis=0).astype(int)
        strokes = int((np.diff(np.r_[0, columns]) == 1).sum())  # separate inked runs
        assert strokes == len(str(n))  # one bar per digit, left to right
    assert not np.array_equal(number_scenes(images, labels, 40, seed=4).images, scenes.images)


def test_scenes_keep_to_the_numbers_given_and_need_every_digit():
    images, labels = digit_images()
    assert set(number_scenes(images, labels, 30, numbers=[12, 305]).numbers) <= {12, 305}
    with pytest.raises(ValueError, match=r"no image of the digits \[9\]"):
        number_scenes(images[:9], labels[:9], 5)


def test_grey_levels_in_zero_to_one_are_drawn_at_full_brightness():
    images, labels = digit_images()
    scenes = number_scenes(images / 255.0, labels, 5, seed=0)
    assert scenes.images.max() == 255
