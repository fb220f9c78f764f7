"""Explanations of a text classifier trained with attention pooling: the weight of every
token it read, from Python, ``rnnkit classify --explain`` and ``POST /classify``; runs that
cannot explain (another pooling, numeric sequences) say so in one line."""

import json

import pytest
from fastapi.testclient import TestClient
from test_classify import FILLER, SMALL, sentiment_rows, write_csv

from rnnkit.cli import main
from rnnkit.data.tokenizers import build_tokenizer
from rnnkit.serve.app import create_app
from rnnkit.tasks import runner
from rnnkit.tasks.classify.use import classify, tokens
from rnnkit.tasks.runner import load_run

MAX_LENGTH = 12  # tokens read of each text: the reviews have 16-26 words
TEXTS = ["Great movie, a Zebra plot!", "awful " + " ".join(FILLER)]  # "zebra": never seen


def train(folder, rows_csv, *overrides: str):
    out = folder / "run"
    source = f"data.source={json.dumps(str(rows_csv))}"
    runner.train("classify", out, overrides=[source, "train.lr=0.01", *SMALL, *overrides],
                 quiet=True)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def attention_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attention")
    data = write_csv(folder / "reviews.csv", sentiment_rows(200, seed=5))
    return train(folder, data, "model.pooling=attention", "model.kind=lstm", "train.epochs=4",
                 "model.bidirectional=false", f"data.max_length={MAX_LENGTH}")  # fmt: skip


@pytest.fixture(scope="module")
def last_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("last")
    data = write_csv(folder / "reviews.csv", sentiment_rows(40, seed=6))
    return train(folder, data, "model.pooling=last", "train.epochs=1")


@pytest.fixture(scope="module")
def numeric_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("numeric")
    data = folder / "seq.csv"
    data.write_text("label,values\n" + "a,1,2,3,4\nb,4,3,2,1\n" * 15)
    return train(folder, data, "model.pooling=attention", "train.epochs=1", "data.numeric=true",
                 "data.row_size=2")  # fmt: skip


def check_weights(result: dict, text: str, tokenizer) -> None:
    """``result["weights"]``: the tokenizer's tokens of ``text`` (as many as the network
    read), each with a weight in [0, 1], summing to one."""
    words, weights = zip(*result["weights"], strict=True)
    assert list(words) == tokenizer.words(text)[:MAX_LENGTH]
    assert all(0 <= w <= 1 for w in weights)
    assert sum(weights) == pytest.approx(1, abs=1e-5)


def test_weights_are_the_texts_tokens_and_sum_to_one(attention_run):
    clf = load_run(attention_run)
    results = classify(clf, TEXTS, explain=True)
    for result, text in zip(results, TEXTS, strict=True):
        check_weights(result, text, clf.tokenizer)
        assert result["label"] in ("pos", "neg") and len(result["probabilities"]) == 2
    assert [w for w, _ in results[0]["weights"]] == ["great", "movie", ",", "a", "zebra", "plot",
                                                      "!"]  # fmt: skip
    assert len(results[1]["weights"]) == MAX_LENGTH  # cut as the model's input is
    words = clf.tokenizer.words(TEXTS[1])
    assert results[1]["unread"] == len(words) - MAX_LENGTH > 0 and "unread" not in results[0]
    assert clf.task.predict(clf, TEXTS, top=1, explain=True) == [
        r | {"probabilities": dict(list(r["probabilities"].items())[:1])} for r in results
    ]
    assert "weights" not in classify(clf, TEXTS)[0]


@pytest.mark.parametrize("level", ["bpe", "char"])
def test_pieces_of_bpe_and_char_runs_are_text(level):
    corpus = ["a moving, beautifully acted film", "café naïve über"] * 20
    size = 300 if level == "bpe" else None
    tok = build_tokenizer(level, corpus, vocab_size=size, lowercase=level == "char")
    text = "A moving café, 日本"  # 日本: bytes that no bpe merge joined, 3 tokens a character
    pieces = tokens(tok, text, None)
    assert len(pieces) == len(tok.encode(text))
    assert "".join(pieces) == (text if level == "bpe" else text.lower())
    assert tokens(tok, text, 3) == pieces[:3]


def test_cli_explain_prints_the_weighed_words(attention_run, capsys):
    argv = ["classify", str(attention_run), "--text", TEXTS[0], "--text", TEXTS[1], "--explain"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4  # a label line and a words line per text
    assert "zebra" in lines[1] and "%" in lines[1] and "(+" in lines[3]  # 12 words, 8 shown
    assert "more not read" in lines[3] and "not read" not in lines[1]
    assert main([*argv, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    clf = load_run(attention_run)
    for result, text in zip(results, TEXTS, strict=True):
        check_weights(result, text, clf.tokenizer)


@pytest.mark.parametrize(
    ("run", "message"),
    [("last_run", "was trained with pooling=last; train with model.pooling=attention"),
     ("numeric_run", "classifies numeric sequences")],
)  # fmt: skip
def test_runs_that_cannot_explain_say_why_in_one_line(run, message, request, capsys):
    folder = request.getfixturevalue(run)
    assert main(["classify", str(folder), "--text", "great movie", "--explain"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("rnnkit: error:") and err.count("\n") == 1


def test_the_route_explains_an_attention_run(attention_run):
    with TestClient(create_app(attention_run)) as client:
        health = client.get("/healthz").json()
        assert health["explain"] is True and health["level"] == "word"
        answer = client.post("/classify", json={"inputs": TEXTS, "explain": True})
        assert answer.status_code == 200
        clf = load_run(attention_run)
        for result, text in zip(answer.json()["results"], TEXTS, strict=True):
            check_weights(result, text, clf.tokenizer)
        plain = client.post("/classify", json={"inputs": TEXTS}).json()["results"]
        assert all("weights" not in r for r in plain)


def test_the_route_refuses_to_explain_another_pooling(last_run):
    with TestClient(create_app(last_run)) as client:
        assert client.get("/healthz").json()["explain"] is False
        answer = client.post("/classify", json={"inputs": ["great movie"], "explain": True})
        assert answer.status_code == 422
        assert "pooling=last; train with model.pooling=attention" in answer.json()["detail"]
        assert client.post("/classify", json={"inputs": ["great movie"]}).status_code == 200
