"""A language model trained from a query store: each query stands min(count, MAX_REPEATS)
times in its split's stream, copies spread out, and the split stays by distinct query."""

import json
from collections import Counter
from itertools import pairwise

import pytest
from test_lm import TINY

from rnnkit.cli import main
from rnnkit.data.sources import load_documents, split_documents
from rnnkit.data.store import QueryStore
from rnnkit.data.tokenizers import build_tokenizer, encode_documents
from rnnkit.tasks.lm.task import MAX_REPEATS, DataConfig, prepare_corpus
from rnnkit.tasks.lm.use import complete
from rnnkit.tasks.runner import load_run

CITIES = ["las vegas", "paris", "rome", "tokyo", "lima"]
THINGS = ["hotels", "flights", "weather", "food", "museums", "maps", "news", "trains"]


def texts_of(tokenizer, ids):
    """The documents of a stream of ids, in order (``<eos>`` decodes as a line break)."""
    return tokenizer.decode(ids).splitlines()


def test_encode_documents_repeats_each_text_with_its_copies_spread_out():
    texts = [f"w{i}" for i in range(30)]
    tok = build_tokenizer("word", texts)
    plain = encode_documents(tok, texts)
    assert encode_documents(tok, texts, [1] * 30) == plain  # the default, unchanged
    repeats = [1] * 30
    repeats[3], repeats[10] = 20, 5
    docs = texts_of(tok, encode_documents(tok, texts, repeats))
    assert Counter(docs) == Counter(dict(zip(texts, repeats, strict=True)))
    assert [d for d in docs if repeats[texts.index(d)] == 1] == [
        t for t, r in zip(texts, repeats, strict=True) if r == 1
    ]  # texts seen once keep their order
    assert all(a != b for a, b in pairwise(docs))  # no copy beside itself
    quarters = [docs[i * len(docs) // 4 : (i + 1) * len(docs) // 4] for i in range(4)]
    assert [q.count("w3") for q in quarters] == [5, 5, 5, 5]  # evenly over the stream


@pytest.mark.parametrize(
    ("repeats", "message"),
    [([1, 1], "repeats has 2 entries for 3 texts"), ([1, 0, 1], "positive ints, got 0")],
)
def test_encode_documents_rejects_bad_repeats(repeats, message):
    tok = build_tokenizer("word", ["a", "b", "c"])
    with pytest.raises(ValueError, match=message):
        encode_documents(tok, ["a", "b", "c"], repeats)


@pytest.fixture
def store(tmp_path):
    """40 distinct queries; the first typed 150 times (more than MAX_REPEATS), others 4-8."""
    lines = ["text,count"]
    for i in range(40):
        count = 150 if i == 0 else 4 + i % 5
        lines.append(f"{CITIES[i % 5]} {THINGS[i // 5]},{count}")
    (tmp_path / "queries.csv").write_text("\n".join(lines) + "\n")
    store = QueryStore(tmp_path / "queries.db")
    store.ingest(tmp_path / "queries.csv")
    return store


def test_each_split_repeats_its_own_queries_up_to_max_repeats(store):
    source = f"sqlite:///{store.path}"
    corpus = prepare_corpus(DataConfig(source=source, min_count=1))
    parts = split_documents(load_documents(source))
    for stream, part in zip((corpus.train, corpus.val, corpus.test), parts, strict=True):
        expected = Counter({d.text: min(d.count, MAX_REPEATS) for d in part})
        # Only its own queries: one typed 150 times stays in one split, 100 times over.
        assert Counter(texts_of(corpus.tokenizer, stream.tolist())) == expected
    assert MAX_REPEATS == 100 and store.top(1) == [("las vegas hotels", 150)]
    assert texts_of(corpus.tokenizer, corpus.train.tolist()).count("las vegas hotels") == 100


def test_train_lm_from_an_ingested_store(store, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "lm", "--data", f"sqlite:///{store.path}", "--out", str(out), "--quiet"]
    assert main([*argv, "train.epochs=2", "data.level=word", *TINY]) == 0
    assert f"trained lm into {out}" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    train, _, _ = split_documents(load_documents(f"sqlite:///{store.path}"))
    words = sum(min(d.count, MAX_REPEATS) * (len(d.text.split()) + 1) for d in train)
    assert results["tokens"]["train"] == words  # every copy was trained on (+ <eos>)
    # "las vegas hotels" was typed far more often than any other las vegas query.
    [first, *_] = complete(load_run(out), "las vegas", k=3)["words"]
    assert first["word"] == "hotels" and first["probability"] > 0.5


@pytest.mark.parametrize(
    "added", ["las vegas weather\n", "tokyo hotels\nrome maps\nparis news\n", "brand new words\n"]
)
def test_resume_refuses_a_store_that_changed_since_the_run_started(store, tmp_path, capsys,
                                                                    added):  # fmt: skip
    """Queries that reuse known words, or a new one: either way the run would train on other
    data (and other token ids) than it started with, so --resume says so and stops."""
    out = tmp_path / "run"
    argv = ["train", "lm", "--out", str(out), "--quiet"]
    settings = [f"data.source=sqlite:///{store.path}", "train.epochs=1", *TINY]
    assert main([*argv, *settings]) == 0
    assert main([*argv, "--resume"]) == 0  # unchanged: resumes (nothing left to train)
    vocab = (out / "vocab.json").read_text()
    (tmp_path / "more.txt").write_text(added)
    store.ingest(tmp_path / "more.txt")
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "changed since the run started" in err and "--resume needs the data" in err
    assert (out / "vocab.json").read_text() == vocab  # what generate and serve read
