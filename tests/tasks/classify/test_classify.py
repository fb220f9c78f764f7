"""Sequence classification end to end on data the tests make: train, score, classify."""

import csv
import json
import random

import pytest

from rnnkit.cli import main
from rnnkit.data.images import load_digits_rows
from rnnkit.tasks import runner
from rnnkit.tasks.classify.use import classify, evaluate_run
from rnnkit.tasks.runner import load_run

FILLER = [
    "the",
    "a",
    "movie",
    "film",
    "plot",
    "actor",
    "scene",
    "story",
    "music",
    "time",
    "one",
    "two",
    "very",
    "quite",
]
SMALL = [
    "model.hidden_size=24",
    "model.embedding_dim=16",
    "model.num_layers=1",
    "model.head_size=none",
    "model.dropout=0.0",
    "model.head_dropout=0.0",
    "data.min_count=1",
    "train.batch_size=16",
]


def sentiment_rows(n: int, seed: int) -> list[dict]:
    """Reviews whose label is set by their FIRST word, followed by 15-25 filler words: the
    network must carry one early word to the end of the sequence."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        opener = rng.choice(["great", "wonderful"] if label == "pos" else ["awful", "boring"])
        words = [opener, *rng.choices(FILLER, k=rng.randint(15, 25))]
        rows.append({"text": " ".join(words), "label": label})
    return rows


def write_csv(path, rows, fields=("text", "label")):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sentiment")
    data = write_csv(folder / "reviews.csv", sentiment_rows(400, seed=0))
    out = folder / "run"
    # One direction read left to right and its last state pooled: the deciding first word
    # is 15-25 steps behind the state the class is read from. An LSTM carries it there
    # within a few epochs (a GRU of this size fits the filler first).
    overrides = [f"data.source={json.dumps(str(data))}", "train.epochs=10", "train.lr=0.01",
                 "model.kind=lstm", "model.bidirectional=false", "model.pooling=last",
                 *SMALL]  # fmt: skip
    runner.train("classify", out, overrides=overrides, quiet=True)
    return out


def test_a_far_away_word_decides_and_is_learned(sentiment_run):
    model = json.loads((sentiment_run / "config.json").read_text())["config"]["model"]
    assert model["bidirectional"] is False and model["pooling"] == "last"  # really far away
    results = json.loads((sentiment_run / "results.json").read_text())
    assert results["accuracy"] >= 0.9, results["report"]  # chance is 0.5
    assert (sentiment_run / "confusion.png").stat().st_size > 1000
    assert set(results["classes"]) == {"neg", "pos"}


def test_classify_and_evaluate_a_run(sentiment_run, tmp_path):
    clf = load_run(sentiment_run)
    texts = ["great " + " ".join(FILLER), "awful " + " ".join(FILLER)]
    labels = [r["label"] for r in classify(clf, texts)]
    assert labels == ["pos", "neg"]
    fresh = write_csv(tmp_path / "new.csv", sentiment_rows(60, seed=1))
    report = evaluate_run(sentiment_run, str(fresh), out=tmp_path / "eval")
    assert report.accuracy >= 0.85
    assert (tmp_path / "eval" / "confusion.png").exists()
    assert json.loads((tmp_path / "eval" / "evaluation.json").read_text())["accuracy"] >= 0.85


def test_cli_classify_json_and_evaluate(sentiment_run, tmp_path, capsys):
    assert main(["classify", str(sentiment_run), "--text", "wonderful plot", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["label"] == "pos" and set(result["probabilities"]) == {"pos", "neg"}
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-5
    fresh = write_csv(tmp_path / "new.csv", sentiment_rows(30, seed=2))
    assert main(["evaluate", str(sentiment_run), "--data", str(fresh)]) == 0
    assert "macro" in capsys.readouterr().out.lower()


def test_digits_rows_are_learned_above_chance(tmp_path):
    out = tmp_path / "digits"
    overrides = ["train.epochs=4", "train.lr=0.01", *SMALL]
    runner.train("classify", out, overrides=overrides, quiet=True)
    results = json.loads((out / "results.json").read_text())
    assert results["accuracy"] >= 0.6, results["report"]  # chance is 0.1; tiny and brief
    # The baseline beside it: the most frequent training class, scored on the same images.
    test = load_digits_rows().test_y
    majority = results["majority_class"]
    assert results["majority_accuracy"] == pytest.approx(
        float((test == int(majority)).float().mean())
    )
    assert results["majority_accuracy"] < 0.15 and "majority class" in results["report"]
    (first,) = classify(load_run(out), [[[0.0] * 8] * 8])
    assert first["label"] in [str(d) for d in range(10)]


def test_balanced_class_weights_on_imbalanced_labels(tmp_path):
    rows = sentiment_rows(300, seed=3)
    rows = [r for r in rows if r["label"] == "pos"] + [r for r in rows if r["label"] == "neg"][:30]
    data = write_csv(tmp_path / "skewed.csv", rows)
    out = tmp_path / "run"
    overrides = [f"data.source={json.dumps(str(data))}", "train.epochs=5", "train.lr=0.01",
                 "model.class_weights=balanced", *SMALL]  # fmt: skip
    runner.train("classify", out, overrides=overrides, quiet=True)
    results = json.loads((out / "results.json").read_text())
    assert results["macro_f1"] > 0.5, results["report"]
    assert load_run(out).model.class_weights[0] > load_run(out).model.class_weights[1]


@pytest.mark.parametrize(
    ("rows", "fields", "extra", "message"),
    [
        ([{"text": "good", "label": "pos"}] * 30, ("text", "label"), ["data.label_column=stars"],
         "stars"),
        ([{"text": "", "label": "pos"}] + [{"text": "ok", "label": "neg"}] * 30,
         ("text", "label"), [], "empty text"),
        ([{"text": "ok", "label": "pos"}] * 30, ("text", "label"), [], "two"),
    ],
    ids=["no-such-column", "empty-text", "one-label"],
)  # fmt: skip
def test_bad_data_is_a_one_line_error_and_writes_nothing(
    tmp_path, capsys, rows, fields, extra, message
):
    data = write_csv(tmp_path / "bad.csv", rows, fields)
    out = tmp_path / "run"
    argv = ["train", "classify", "--data", str(data), "--out", str(out), "--quiet", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error:") and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_ragged_numeric_rows_are_refused(tmp_path, capsys):
    data = tmp_path / "seq.csv"
    data.write_text("label,values\n" + "a,1,2,3,4\n" * 15 + "b,1,2,3\n" * 15)
    argv = ["train", "classify", "--data", str(data), "--out", str(tmp_path / "run"),
            "data.numeric=true", "data.row_size=2"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "3" in err and "row_size" in err, err


def test_unknown_labels_in_evaluation_data_are_named(sentiment_run, tmp_path, capsys):
    rows = [{"text": "great movie", "label": "maybe"}]
    data = write_csv(tmp_path / "odd.csv", rows)
    assert main(["evaluate", str(sentiment_run), "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "maybe" in err and "neg, pos" in err


def test_the_keras_config_builds_the_keras_seed_model():
    from rnnkit.tasks.classify.task import build_model

    config = runner.load_config(runner.get_task("classify"), "configs/keras_mnist.toml")
    assert config.data.source == "mnist" and config.train.epochs == 3
    assert config.train.clip_norm is None and config.train.lr == 1e-3
    model = build_model(config, 10, None, 28)
    rnn = model.encoder.rnn.rnn
    assert (rnn.mode, rnn.hidden_size, rnn.num_layers, rnn.dropout) == ("LSTM", 128, 2, 0.2)
    assert not rnn.bidirectional
    sizes = [layer.out_features for layer in model.head if hasattr(layer, "out_features")]
    assert sizes == [64, 10]


def test_an_imdb_style_folder_trains(tmp_path):
    rows = sentiment_rows(240, seed=4)
    for i, row in enumerate(rows):
        split = "test" if i % 4 == 0 else "train"
        folder = tmp_path / "aclImdb" / split / row["label"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}_7.txt").write_text(row["text"].replace(" film ", " film<br />"))
    out = tmp_path / "run"
    overrides = [f"data.source={json.dumps(str(tmp_path / 'aclImdb'))}", "train.epochs=6",
                 "train.lr=0.01", "model.bidirectional=true", *SMALL]  # fmt: skip
    runner.train("classify", out, overrides=overrides, quiet=True)
    results = json.loads((out / "results.json").read_text())
    assert results["samples"]["test"] == 60
    assert results["accuracy"] >= 0.85, results["report"]
