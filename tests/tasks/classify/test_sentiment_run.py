"""A sentiment run on the ``tweets`` source end to end, on a small corpus in its layout: the
options that choose the tweets, the baselines in the results, and scoring the run elsewhere."""

import json
import random

import pytest
from test_classify import SMALL

from rnnkit.data import tweets
from rnnkit.tasks import runner
from rnnkit.tasks.classify.use import evaluate_run

WORDS = {"negative": ["awful", "delayed", "rude"], "neutral": ["flight", "gate", "seat"],
         "positive": ["great", "thanks", "lovely"]}  # fmt: skip


def tweet_rows(n, seed):
    rng = random.Random(seed)
    for i in range(n):
        label = rng.choice(list(WORDS))
        words = [rng.choice(WORDS[label]), *rng.choices(WORDS["neutral"], k=4), f"n{i}"]
        yield label, f"{rng.random():.2f}", " ".join(words)


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tweets")
    corpus = folder / "corpus.csv"
    rows = "".join(f"{a},{b},{c}\n" for a, b, c in tweet_rows(300, seed=1))
    corpus.write_text("sentiment,confidence,text\n" + rows)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tweets, "tweets_file", lambda: corpus)  # as if the installed corpus
        runner.train("classify", folder / "run", quiet=True, overrides=[
            "data.source=tweets", 'data.labels=["negative", "positive"]',
            "data.min_confidence=0.3", "train.epochs=3", "train.lr=0.01", *SMALL,
        ])  # fmt: skip
    return folder / "run"


def test_the_tweets_chosen_and_the_baselines_reported(sentiment_run):
    results = json.loads((sentiment_run / "results.json").read_text())
    assert results["classes"] == ["negative", "positive"]
    assert results["split"].startswith("hash of the text, 20% test;")
    names = sorted(results["baselines"])
    assert names[0].startswith("TF-IDF + logistic regression (C=") and names[1] == "VADER"
    assert names[2].startswith("majority class")
    assert results["accuracy"] >= 0.8, results["report"]  # the first word decides
    assert "VADER: accuracy" in results["report"]


def test_a_run_is_scored_on_a_table_of_its_own_labels_only(sentiment_run, tmp_path):
    table = tmp_path / "graded.csv"
    rows = [("positive", "great flight thanks"), ("neutral", "the gate"),
            ("negative", "awful rude seat")]  # fmt: skip
    table.write_text("label,text\n" + "".join(f"{a},{b}\n" for a, b in rows))
    # The run's min_confidence is for tweets only, and its neutral-free classes keep 2 rows.
    report = evaluate_run(sentiment_run, str(table))
    assert sum(report.support) == 2
