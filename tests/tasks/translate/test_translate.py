"""The translate task end to end on pairs the test makes: a word-for-word mapping with the
adjective moved before the noun, learned in seconds; scores from sacrebleu; the command and
the route; bad inputs are one-line errors with nothing written."""

import itertools
import json
import random
import re

import pytest
import sacrebleu
import torch
from fastapi.testclient import TestClient

from rnnkit.cli import main
from rnnkit.data.paired import Pair
from rnnkit.models.decoding import greedy
from rnnkit.serve.app import create_app
from rnnkit.tasks import runner
from rnnkit.tasks.runner import load_run
from rnnkit.tasks.translate.scores import best_threshold, combine, memory, score
from rnnkit.tasks.translate.task import pad_sources
from rnnkit.tasks.translate.use import attention_matrix, translate

WORDS = {"le": "the", "chat": "cat", "chien": "dog", "oiseau": "bird", "poisson": "fish",
         "cheval": "horse", "petit": "small", "grand": "big", "rouge": "red", "vert": "green",
         "mange": "eats", "voit": "sees", "aime": "likes"}  # fmt: skip
NOUNS, ADJECTIVES = (
    ["chat", "chien", "oiseau", "poisson", "cheval"],
    ["petit", "grand", "rouge", "vert"],
)
VERBS = ["mange", "voit", "aime"]
SMALL = ["model.hidden_size=64", "model.embedding_dim=32", "data.vocab_size=300",
         "train.epochs=30", "train.batch_size=16", "train.lr=0.005", "model.beam=3",
         "model.dropout=0", "data.val_fraction=0.1", "data.test_fraction=0.1"]  # fmt: skip


def english(french: str) -> str:
    n1, a1, v, n2 = french.split()[1], french.split()[2], french.split()[3], french.split()[5]
    return f"the {WORDS[a1]} {WORDS[n1]} {WORDS[v]} the {WORDS[n2]}"


def pairs_file(path):
    lines = [f"le {n1} {a} {v} le {n2}" for n1, a, v, n2 in
             itertools.product(NOUNS, ADJECTIVES, VERBS, NOUNS)]  # fmt: skip
    random.Random(0).shuffle(lines)
    path.write_text("".join(f"{fr}\t{english(fr)}\tCC-BY attribution\n" for fr in lines))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("translate")
    data = pairs_file(folder / "pairs.txt")
    runner.train("translate", folder / "run", quiet=True,
                 overrides=[f"data.source={json.dumps(str(data))}", *SMALL])  # fmt: skip
    return folder / "run"


def test_the_mapping_is_learned_and_scored_beside_the_baselines(run):
    results = json.loads((run / "results.json").read_text())
    table = results["scores"]
    assert set(table) == {
        "network, greedy",
        "network, beam 3",
        "network or memory",
        "copy",
        "translation memory",
    }
    assert table["network or memory"]["bleu"] >= table["translation memory"]["bleu"]
    assert 0.5 <= results["combination"]["threshold"] <= 1.01
    exact = [e["network"] == e["reference"] for e in results["examples"]]
    assert sum(exact) / len(exact) >= 0.95, results["report"]
    assert table["network, beam 3"]["bleu"] > table["translation memory"]["bleu"] + 20
    assert table["copy"]["bleu"] < 5  # the words are not cognates
    assert results["data"]["direction"] == "source -> target"
    parts = results["data"]["pairs"]
    assert sum(parts.values()) == 300 and parts["test"] == len(results["examples"])


def test_beam_one_is_greedy_decoding(run):
    loaded = load_run(run)
    texts = ["le cheval vert aime le chat", "le poisson petit voit le chien"]
    assert translate(loaded, texts) == [english(t) for t in texts]
    seq2seq, eos = loaded.model.seq2seq, loaded.target.eos_id
    tokens, state = seq2seq.start(*pad_sources([loaded.source.encode(t) for t in texts]))
    plain = greedy(seq2seq, tokens, state, max_length=20, eos=eos)
    rows = zip(plain.tokens.tolist(), plain.lengths.tolist(), strict=True)
    decoded = [loaded.target.decode([i for i in row[:n] if i != eos]).strip() for row, n in rows]
    assert translate(loaded, texts, beam=1) == decoded
    with pytest.raises(ValueError, match="beam must be a positive int"):
        translate(loaded, texts, beam=0)
    with pytest.raises(ValueError, match="at least one non-empty text"):
        translate(loaded, ["  "])


def test_scores_are_sacrebleus():
    hyps, refs = ["the cat sat on the mat", "a dog"], ["the cat sat on the mat", "the dog barked"]
    found = score(hyps, refs)
    assert found["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert found["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert score(refs, refs) == pytest.approx({"bleu": 100.0, "chrf": 100.0})


def test_the_memory_finds_near_twins_and_the_combination_trusts_only_close_ones():
    train = [Pair("impossible d'ouvrir le fichier", "cannot open the file"),
             Pair("fichier introuvable", "file not found")]  # fmt: skip
    sources = ["impossible d'ouvrir le fichier", "impossible d'ouvrir le répertoire", "zzz"]
    remembered, similarity = memory(train, sources)
    assert remembered[:2] == ["cannot open the file"] * 2
    assert similarity[0] == pytest.approx(1) and 0.3 < similarity[1] < 1 and similarity[2] == 0
    network = ["cannot open file", "cannot open the directory", "?"]
    assert combine(network, remembered, similarity, 1.0) == [remembered[0], *network[1:]]
    assert combine(network, remembered, similarity, 1.01) == network
    references = ["cannot open the file", "cannot open the directory", "zzz"]
    # the exact twin helps, the near one does not: only exact matches are taken
    assert best_threshold(network, remembered, similarity, references) > similarity[1]
    assert best_threshold(network, remembered, similarity, references) <= 1


def test_the_command_and_the_route(run, capsys, monkeypatch, tmp_path):
    assert main(["translate", str(run), "le chat rouge mange le poisson"]) == 0
    assert capsys.readouterr().out == "the red cat eats the fish\n"
    (tmp_path / "in.txt").write_text("le chien grand voit le cheval\n\n")
    assert main(["translate", str(run), "--file", str(tmp_path / "in.txt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"source": "le chien grand voit le cheval", "translation": "the big dog sees the horse"}
    ]
    with TestClient(create_app(run)) as client:
        answer = client.post("/translate", json={"inputs": ["le chat vert aime le chien"]})
        assert answer.json() == {"translations": ["the green cat likes the dog"],
                                 "direction": "source -> target"}  # fmt: skip
        assert client.post("/translate", json={"inputs": ["x" * 501]}).status_code == 422
        assert client.post("/translate", json={"inputs": ["a"], "beam": 0}).status_code == 422
        assert client.get("/healthz").json()["beam"] == 3


@pytest.mark.parametrize(
    ("source", "message"),
    [("empty.txt", "has no pairs"),
     ("pairs.csv", "no column 'target'|has no column|target"),
     ("gettext:zz", "no catalogues of"),
     ("gettext:../x", "give a language code")],
    ids=["empty", "column", "language", "code"],
)  # fmt: skip
def test_bad_data_is_one_line_and_nothing_is_written(tmp_path, capsys, source, message):
    (tmp_path / "empty.txt").write_text("\n")
    (tmp_path / "pairs.csv").write_text("source,other\na b,c d\n")
    path = str(tmp_path / source) if not source.startswith("gettext") else source
    assert main(["train", "translate", "--out", str(tmp_path / "run"),
                 f"data.source={json.dumps(path)}"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err
    assert not (tmp_path / "run").exists()


def test_the_attention_matrix_is_drawn_and_each_row_is_a_distribution(run, tmp_path):
    loaded = load_run(run)
    sources, targets, weights = attention_matrix(loaded, "le chat rouge mange le poisson")
    assert "".join(targets[:-1]).strip() == "the red cat eats the fish"
    assert weights.shape == (len(targets), len(sources))
    assert torch.allclose(weights.sum(-1), torch.ones(len(targets)), atol=1e-5)
    png = tmp_path / "attention.png"
    assert main(["translate", str(run), "le chat rouge mange le poisson", "--attention",
                 str(png)]) == 0  # fmt: skip
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded.model.seq2seq.attention = None  # as a run trained with model.attention=none
    with pytest.raises(ValueError, match="trained with model.attention=none"):
        attention_matrix(loaded, "le chat")
