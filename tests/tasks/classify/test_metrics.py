"""Classification metrics against values computed by hand, and the confusion-matrix PNG."""

import json
from fractions import Fraction

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from rnnkit.tasks.classify.metrics import ClassReport, classification_report, plot_confusion

CLASSES = ["cat", "dog", "bird", "fish"]
# bird is never predicted; fish never occurs in y_true but is predicted once
Y_TRUE = [0, 0, 0, 1, 1, 2, 2]
Y_PRED = [0, 0, 1, 1, 3, 0, 1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def close(values, expected):
    np.testing.assert_allclose(values, [float(v) for v in expected], rtol=0, atol=1e-12)


def test_values_by_hand():
    report = classification_report(Y_TRUE, Y_PRED, CLASSES)
    assert report.confusion == [[2, 1, 0, 0], [0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 0, 0]]
    assert report.support == [3, 2, 2, 0]
    third = Fraction(1, 3)
    # cat: 2 of its 3 predictions right, 2 of 3 found; dog: 1 of 3 right, 1 of 2 found
    close(report.precision, [2 * third, third, 0, 0])
    close(report.recall, [2 * third, Fraction(1, 2), 0, 0])
    close(report.f1, [2 * third, Fraction(2, 5), 0, 0])
    close([report.accuracy], [Fraction(3, 7)])
    close([report.macro_f1], [(2 * third + Fraction(2, 5)) / 4])  # 4/15
    assert report.macro_f1 == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro"))
    assert report.classes == CLASSES


def test_macro_f1_skips_a_class_neither_true_nor_predicted():
    report = classification_report([0, 1, 1], [0, 1, 0], ["a", "b", "c"])
    close(report.f1, [Fraction(2, 3), Fraction(2, 3), 0])
    close([report.macro_f1], [Fraction(2, 3)])  # not 4/9: "c" says nothing about the model
    assert report.macro_f1 == pytest.approx(f1_score([0, 1, 1], [0, 1, 0], average="macro"))
    assert report.confusion[2] == [0, 0, 0]


@pytest.mark.parametrize("kind", [tuple, np.array, torch.tensor])
def test_arrays_and_tensors_give_the_same_report(kind):
    expected = classification_report(Y_TRUE, Y_PRED, CLASSES)
    assert classification_report(kind(Y_TRUE), kind(Y_PRED), tuple(CLASSES)) == expected


def test_format_and_to_dict():
    report = classification_report(Y_TRUE, Y_PRED, CLASSES)
    text = report.format()
    for name in CLASSES:
        assert name in text
    lines = text.splitlines()
    assert lines[0].split() == ["class", "precision", "recall", "f1", "support"]
    assert lines[2].split() == ["dog", "0.333", "0.500", "0.400", "2"]
    assert lines[-2].split() == ["accuracy", "0.429", "7"]
    assert lines[-1].split() == ["macro-F1", "0.267", "7"]
    data = json.loads(json.dumps(report.to_dict()))
    assert ClassReport(**data) == report


def test_plot_writes_a_png(tmp_path):
    report = classification_report(Y_TRUE, Y_PRED, CLASSES)
    path = plot_confusion(report, tmp_path / "confusion.png", title="test")
    assert path == tmp_path / "confusion.png"
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000
    assert [p.name for p in tmp_path.iterdir()] == ["confusion.png"]  # no temporary left


def test_plot_many_classes_without_numbers(tmp_path):
    rng = np.random.default_rng(0)
    names = [f"class {c}" for c in range(60)]
    y_true, y_pred = rng.integers(0, 60, 500), rng.integers(0, 60, 500)
    report = classification_report(y_true, y_pred, names)
    path = plot_confusion(report, tmp_path / "many.png", normalize=False)
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken(self, fname, **kwargs):
        with open(fname, "wb") as f:
            f.write(PNG_MAGIC)  # half a file, then the disk fills up
        raise OSError("no space left on device")

    report = classification_report(Y_TRUE, Y_PRED, CLASSES)
    kept = tmp_path / "kept.png"
    plot_confusion(report, kept)
    before = kept.read_bytes()
    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="no space"):
        plot_confusion(report, tmp_path / "new.png")
    with pytest.raises(OSError, match="no space"):
        plot_confusion(report, kept)
    assert [p.name for p in tmp_path.iterdir()] == ["kept.png"]
    assert kept.read_bytes() == before  # the old plot survives a failed overwrite


@pytest.mark.parametrize(
    ("y_true", "y_pred", "classes", "message"),
    [
        ([0, 1], [0], ["a", "b"], "one id per sample each, got 2 and 1"),
        ([], [], ["a", "b"], "nothing to score"),
        ([0, 2], [0, 1], ["a", "b"], r"y_true must hold class ids in \[0, 2\).*0 to 2"),
        ([0, 1], [-1, 1], ["a", "b"], r"y_pred must hold class ids in \[0, 2\)"),
        ([0.0, 1.0], [0, 1], ["a", "b"], "y_true must be a 1-D sequence of int class ids"),
        ([0, 1], [[0.2, 0.8], [0.9, 0.1]], ["a", "b"], "take the argmax"),
        ([True, False], [0, 1], ["a", "b"], "int class ids"),
        ([0, 1], [0, 1], ["a", "a"], "distinct names, got a twice"),
        ([0, 1], [0, 1], "ab", "sequence of class names"),
        ([0], [0], [], "at least one class"),
    ],
)
def test_bad_inputs_raise(y_true, y_pred, classes, message):
    with pytest.raises(ValueError, match=message):
        classification_report(y_true, y_pred, classes)
