"""Language modelling end to end on small text the tests write: train, score, complete."""

import json

import numpy as np
import pytest

from conftest import PHRASES as VEGAS
from rnnkit.cli import main
from rnnkit.tasks import runner
from rnnkit.tasks.lm.use import complete, generate
from rnnkit.tasks.runner import load_run

PHRASES = VEGAS[:5]  # the five that all say "las vegas"
TINY = [
    "model.embedding_dim=32",
    "model.hidden_size=32",
    "model.num_layers=1",
    "model.dropout=0.0",
    "data.lowercase=true",
    "data.min_count=1",
    "train.batch_size=4",
    "data.bptt=12",
    "train.lr=0.01",
    "train.warmup_steps=0",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """60 short documents, one file each, that keep saying "las vegas"."""
    folder = tmp_path_factory.mktemp("corpus")
    for i in range(60):
        (folder / f"doc{i:02d}.txt").write_text(PHRASES[i % len(PHRASES)] + "\n")
    return folder


@pytest.fixture(scope="module")
def word_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "lm"
    overrides = [f"data.source={json.dumps(str(corpus))}", "train.epochs=15", *TINY]
    runner.train("lm", out, overrides=overrides, quiet=True)
    return out


def test_learns_the_pattern_and_completes_it_at_top_1(word_run):
    lm = load_run(word_run)
    result = complete(lm, "What's the best food to eat in Las", k=3)
    assert result["words"][0]["word"] == "vegas", result
    assert result["words"][0]["probability"] > 0.5
    assert result["unknown"] == ["what's"]  # not in the corpus: read as <unk>, not fatal
    assert result["phrases"][0]["completion"].startswith("vegas")


def test_results_compare_the_network_with_kneser_ney(word_run):
    results = json.loads((word_run / "results.json").read_text())
    for key in ("val_ppl", "test_ppl", "ngram_val_ppl", "ngram_test_ppl", "gain_vs_ngram"):
        assert key in results
    assert results["ngram_order"] == 3 and results["test_ppl"] < 3.0
    assert json.loads((word_run / "vocab.json").read_text())["kind"] == "word"


def test_generation_is_reproducible_and_long_prompts_work(word_run):
    lm = load_run(word_run)
    first = generate(lm, "we flew to", length=8, seed=3)
    assert first == generate(lm, "we flew to", length=8, seed=3)
    assert first.startswith("we flew to")
    long_prompt = " ".join(PHRASES * 40)  # 1,300 words, far longer than any document
    assert complete(lm, long_prompt, k=2)["words"]


def test_at_character_level_memory_beats_kneser_ney_across_a_long_dependency(tmp_path):
    # Documents "c pqrst c": the last character copies the first, one of 8, across five
    # filler characters. A trigram sees only "st" before it (3 bits); a recurrent network
    # that remembers the first character pays nothing there, so it needs about half the
    # bits per character. An untrained network pays about log2(16) = 4 bits.
    rng = np.random.default_rng(0)
    folder = tmp_path / "copy"
    folder.mkdir()
    for i in range(800):
        c = "abcdefgh"[rng.integers(8)]
        (folder / f"doc{i:03d}.txt").write_text(c + "pqrst" + c + "\n")
    _, result = runner.train("lm", tmp_path / "chars", overrides=[
        f"data.source={json.dumps(str(folder))}", "data.level=char", "ngram_order=3",
        *TINY, "model.embedding_dim=16", "train.batch_size=8", "data.bptt=16",
        "train.epochs=5",
    ], quiet=True)  # fmt: skip
    results = result.results
    assert results["level"] == "char" and results["ngram_order"] == 3
    assert results["ngram_test_bpc"] > 0.6  # the trigram cannot see the first character
    assert results["test_bpc"] < 0.5 and results["test_bpc"] < 0.75 * results["ngram_test_bpc"]
    assert results["test_ppl"] < results["ngram_test_ppl"] and results["gain_vs_ngram"] > 0.1


def test_cli_complete_and_generate_json(word_run, capsys):
    assert main(["complete", str(word_run), "in las", "--json", "-k", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["words"]) == 2 and result["words"][0]["word"] == "vegas"
    assert main(["generate", str(word_run), "--prime", "my uncle", "--seed", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["text"].startswith("my uncle")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["complete", "RUN", "  "], "give some text to complete"),
        (["complete", "RUN", "las", "-k", "0"], "k must be a positive int, got 0"),
        (["generate", "RUN", "--length", "0"], "length must be a positive int, got 0"),
        (["complete", "missing-run", "las"], "run directory missing-run does not exist"),
    ],
)
def test_cli_bad_use_is_one_line(word_run, capsys, argv, message):
    argv = [str(word_run) if a == "RUN" else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_bad_sources_are_clear_errors_and_write_nothing(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("   \n")
    out = tmp_path / "run"
    assert main(["train", "lm", "--data", str(empty), "--out", str(out)]) == 2
    assert "has no text" in capsys.readouterr().err and not out.exists()
    assert main(["train", "lm", "--data", str(tmp_path / "nope.txt"), "--out", str(out)]) == 2
    assert "nope.txt" in capsys.readouterr().err and not out.exists()


def test_a_folder_with_its_own_split_trains_on_it(tmp_path):
    """train.txt / valid.txt / test.txt (the WikiText and Penn Treebank layout) are the three
    parts as given, not re-split by the i % 20 rule; the run says which split it used."""
    folder = tmp_path / "ptb"
    folder.mkdir()
    parts = {"train": PHRASES * 5, "valid": PHRASES[:2], "test": ["my uncle moved to las vegas"]}
    for name, lines in parts.items():
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    overrides = [f"data.source={json.dumps(str(folder))}", "train.epochs=2", *TINY]
    _, result = runner.train("lm", out, overrides=overrides, quiet=True)
    assert result.results["split"] == "official"
    # Each file is one document: its words, then one <eos>.
    assert result.results["tokens"]["test"] == 6 + 1
    assert result.results["tokens"]["val"] == sum(len(p.split()) for p in PHRASES[:2]) + 1


def test_a_folder_split_with_an_empty_part_says_which(tmp_path, capsys):
    folder = tmp_path / "ptb"
    folder.mkdir()
    for name, text in (("train", "a b c\n" * 30), ("valid", "a b\n"), ("test", "  \n")):
        (folder / f"{name}.txt").write_text(text)
    out = tmp_path / "run"
    assert main(["train", "lm", "--data", str(folder), "--out", str(out)]) == 2
    assert "test part holds no text" in capsys.readouterr().err and not out.exists()
