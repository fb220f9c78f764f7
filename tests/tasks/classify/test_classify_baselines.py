"""The baselines a classify run reports beside the network, on small data made here."""

import torch

from rnnkit.tasks.classify import baselines
from rnnkit.tasks.classify.metrics import classification_report

CLASSES = ["negative", "neutral", "positive"]
WORDS = {0: ["awful", "terrible delay", "worst crew"], 1: ["the flight", "a gate", "my seat"],
         2: ["great", "lovely crew", "best trip"]}  # fmt: skip


def parts(n=90):
    """Texts whose words give their class away, and their targets, in three parts."""
    texts, ids = [], []
    for i in range(n):
        c = i % 3
        texts.append(f"{WORDS[c][i % 3]} today number {i}")
        ids.append(c)
    cut = {"train": slice(0, 60), "val": slice(60, 75), "test": slice(75, 90)}
    return ({k: texts[s] for k, s in cut.items()},
            {k: torch.tensor(ids[s]) for k, s in cut.items()})  # fmt: skip


def test_tfidf_logistic_regression_learns_and_vader_reads_sentiment_names():
    texts, targets = parts()
    found, notes = baselines.text_baselines(texts, targets, CLASSES)
    (tfidf_name, tfidf), (vader_name, vader) = found.items()
    assert notes == []
    assert tfidf_name.startswith("TF-IDF + logistic regression (C=") and vader_name == "VADER"
    assert tfidf.accuracy == 1.0  # the class words are all it needs
    assert vader.accuracy > 1 / 3 and len(vader.support) == 3  # a lexicon, untrained


def test_tfidf_is_fitted_on_training_and_tuned_on_validation_never_on_test():
    texts, targets = parts()
    found, _ = baselines.text_baselines(texts, targets, CLASSES)
    flipped = dict(targets, test=(targets["test"] + 1) % 3)  # other test labels
    again, _ = baselines.text_baselines(texts, flipped, CLASSES)
    assert list(again) == list(found)  # the same C: chosen without the test labels
    assert next(iter(again.values())).accuracy == 0.0  # and scored on them


def test_vader_only_for_sentiment_classes_and_two_classes_by_the_sign():
    assert baselines.sentiment_ids(["cat", "dog"]) is None
    assert baselines.sentiment_ids(["neutral", "positive"]) is None  # no negative
    texts = ["great", "awful", "a gate"]
    assert baselines.vader_labels(texts, CLASSES, fallback=0) == [2, 0, 1]
    assert baselines.vader_labels(texts, ["neg", "pos"], fallback=0) == [1, 0, 0]  # no sentiment
    assert baselines.vader_labels(texts, ["neg", "pos"], fallback=1) == [1, 0, 1]


def test_a_missing_vader_is_said_not_hidden(monkeypatch):
    texts, targets = parts()
    monkeypatch.setattr(baselines.importlib.util, "find_spec", lambda name: None)
    found, notes = baselines.text_baselines(texts, targets, CLASSES)
    assert "VADER" not in found
    assert notes == ["VADER skipped: pip install vaderSentiment to score it"]


def test_too_little_text_leaves_only_what_needs_no_training():
    texts = {"train": ["a", "b"], "val": ["c"], "test": ["great"]}
    targets = {"train": torch.tensor([0, 2]), "val": torch.tensor([0]), "test": torch.tensor([2])}
    assert list(baselines.text_baselines(texts, targets, CLASSES)[0]) == ["VADER"]
    assert baselines.text_baselines(texts, targets, ["x", "y", "z"]) == ({}, [])


def test_majority_and_pixel_logistic_regression():
    most, report = baselines.majority(torch.tensor([1, 1, 0]), torch.tensor([1, 0]), ["a", "b"])
    assert most == 1 and report.accuracy == 0.5
    g = torch.Generator().manual_seed(0)
    y = torch.arange(80) % 2
    x = torch.rand(80, 4, 4, generator=g) * 0.5 + y.view(-1, 1, 1) * 0.5  # bright = class 1
    inputs = {"train": x[:60], "val": x[60:70], "test": x[70:]}
    targets = {"train": y[:60], "val": y[60:70], "test": y[70:]}
    ((name, pixels),) = baselines.image_baselines(inputs, targets, ["dark", "bright"]).items()
    assert name == "logistic regression on pixels" and pixels.accuracy == 1.0


def test_the_verdict_says_plainly_who_wins():
    truth = [0, 1, 2, 0, 1, 2]
    network = classification_report(truth, [0, 1, 2, 0, 1, 0], CLASSES)
    better = classification_report(truth, truth, CLASSES)
    worse = classification_report(truth, [0, 0, 0, 0, 0, 0], CLASSES)
    lines = baselines.verdict(network, {"strong": better, "weak": worse}).splitlines()
    assert lines[0].startswith("strong: accuracy 1.000, macro-F1 1.000 on the same test part")
    assert "the network does NOT beat it" in lines[0]
    assert "points above" in lines[1] and "NOT" not in lines[1]
