"""Number scenes: numbers in words, and canvases that hold each digit of the number, drawn
from the right class, reproducibly. Fashion scenes: two items in a row or a column, their
boxes on the canvas, and five reference captions that name them, their sizes and relation."""

from fractions import Fraction

import numpy as np
import pytest

from rnnkit.data.scenes import (
    CANVAS,
    FASHION_CANVAS,
    FASHION_WORDS,
    fashion_scenes,
    number_scenes,
    number_words,
)


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


def fashion_images():
    """Two 28x28 images per class, solid squares of a grey level that is the class's own
    (20 for class 0 up to 227 for class 9), so a canvas says which class is where."""
    images = np.zeros((20, 28, 28), np.uint8)
    labels = []
    for i in range(20):
        images[i] = 20 + 23 * (i % 10)
        labels.append(i % 10)
    return images, labels


def test_fashion_words_name_every_class_of_the_data_set():
    from rnnkit.data.images import FASHION_CLASSES

    assert len(FASHION_WORDS) == len(FASHION_CLASSES) == 10
    assert FASHION_WORDS[0] == "t-shirt" and FASHION_WORDS[9] == "ankle boot"


def test_fashion_scenes_are_reproducible_and_a_prefix_of_longer_runs():
    images, labels = fashion_images()
    scenes = fashion_scenes(images, labels, count=30, seed=5)
    again = fashion_scenes(images, labels, count=30, seed=5)
    assert np.array_equal(scenes.images, again.images)
    assert scenes.references == again.references and scenes.layouts == again.layouts
    assert scenes.images.shape == (30, *FASHION_CANVAS) and scenes.images.dtype == np.uint8
    more = fashion_scenes(images, labels, count=50, seed=5)
    assert np.array_equal(more.images[:30], scenes.images) and more.layouts[:30] == scenes.layouts
    other = fashion_scenes(images, labels, count=30, seed=6)
    assert not np.array_equal(other.images, scenes.images)
    assert fashion_scenes(images, labels, count=0).images.shape == (0, *FASHION_CANVAS)


def _phrase(word, size):
    """The item's phrase with its article: only "ankle boot" starts with a vowel sound."""
    phrase = f"{size} {word}" if size else word
    return ("an " if phrase.startswith("ankle") else "a ") + phrase


def test_fashion_references_name_both_items_and_their_relation():
    images, labels = fashion_images()
    scenes = fashion_scenes(images, labels, count=300, seed=0)
    assert {layout["layout"] for layout in scenes.layouts} == {"row", "column"}
    assert any(a == b for a, b in (layout["items"] for layout in scenes.layouts))  # allowed
    for references, layout in zip(scenes.references, scenes.layouts, strict=True):
        a, b = (_phrase(FASHION_WORDS[c], s)
                for c, s in zip(layout["items"], layout["sizes"], strict=True))  # fmt: skip
        if layout["layout"] == "row":
            expected = [f"{a} to the left of {b}", f"{b} to the right of {a}",
                        f"{a} next to {b}", f"{a} and {b} side by side",
                        f"{a} on the left and {b} on the right"]  # fmt: skip
        else:
            expected = [f"{a} above {b}", f"{b} below {a}", f"{a} on top of {b}",
                        f"{b} under {a}", f"{a} at the top and {b} at the bottom"]  # fmt: skip
        assert references == expected


def test_fashion_articles_follow_the_word_after_them():
    images, labels = fashion_images()
    text = " | ".join(" | ".join(r) for r in fashion_scenes(images, labels, 300).references)
    assert "an ankle boot" in text and (
        "a small ankle boot" in text or "a large ankle boot" in text
    )
    assert "a pair of trousers" in text and "a t-shirt" in text
    assert "a ankle" not in text and "an small" not in text and "an large" not in text


def test_fashion_size_words_say_when_one_side_is_1_35_times_the_other():
    images, labels = fashion_images()
    scenes = fashion_scenes(images, labels, count=600, seed=2)
    worded = 0
    for layout in scenes.layouts:
        side_a, side_b = (side for _, _, side in layout["boxes"])
        assert min(side_a, side_b) >= 18 and max(side_a, side_b) <= 32
        if Fraction(max(side_a, side_b), min(side_a, side_b)) >= Fraction(135, 100):
            worded += 1
            expected = ["large", "small"] if side_a > side_b else ["small", "large"]
        else:
            expected = [None, None]
        assert layout["sizes"] == expected
    assert 0.25 < worded / len(scenes.layouts) < 0.42  # about a third


def test_fashion_items_sit_in_their_boxes_in_a_row_or_a_column():
    images, labels = fashion_images()
    scenes = fashion_scenes(images, labels, count=200, seed=3, canvas=(64, 80))
    height, width = 64, 80
    for canvas, layout in zip(scenes.images, scenes.layouts, strict=True):
        drawn = np.zeros_like(canvas)
        for c, (top, left, side) in zip(layout["items"], layout["boxes"], strict=True):
            assert top >= 0 and left >= 0 and top + side <= height and left + side <= width
            drawn[top : top + side, left : left + side] = 20 + 23 * c  # the class's grey
        assert np.array_equal(canvas, drawn)  # each item where its box says, nothing else
        (top_a, left_a, side_a), (top_b, left_b, _) = layout["boxes"]
        if layout["layout"] == "row":
            assert left_a + side_a <= left_b  # a wholly left of b
        else:
            assert top_a + side_a <= top_b  # a wholly above b


def test_fashion_grey_levels_in_zero_to_one_are_drawn_at_full_brightness():
    images, labels = fashion_images()
    images[9] = images[19] = 255
    scenes = fashion_scenes(images / 255.0, labels, count=100, seed=0)
    assert scenes.images.max() == 255


def test_fashion_scenes_refuse_bad_inputs():
    images, labels = fashion_images()
    with pytest.raises(ValueError, match=r"give \(N, 28, 28\) images and N labels"):
        fashion_scenes(images, labels[:-1], 5)
    with pytest.raises(ValueError, match=r"give \(N, 28, 28\) images"):
        fashion_scenes(images[0], labels[:1], 5)
    keep = [i for i, c in enumerate(labels) if c != 9]
    with pytest.raises(ValueError, match=r"no image of the classes 9 \(ankle boot\)"):
        fashion_scenes(images[keep], [labels[i] for i in keep], 5)
    with pytest.raises(ValueError, match="ints from 0 to 9"):
        fashion_scenes(images, [*labels[:-1], 10], 5)
    with pytest.raises(ValueError, match="count must be"):
        fashion_scenes(images, labels, -1)
    with pytest.raises(ValueError, match=r"at least \(64, 64\)"):
        fashion_scenes(images, labels, 5, canvas=(48, 64))
