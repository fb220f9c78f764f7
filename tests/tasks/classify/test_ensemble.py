"""``model.ensemble``: K classifiers trained side by side that predict with their mean."""

import json

import pytest
import torch
from fastapi.testclient import TestClient
from test_classify import SMALL, sentiment_rows, write_csv

from rnnkit.models import ClassifierEnsemble, SequenceClassifier
from rnnkit.serve.app import create_app
from rnnkit.tasks import runner
from rnnkit.tasks.classify.use import classify
from rnnkit.tasks.runner import load_run


def members(k=3, pooling="attention"):
    torch.manual_seed(0)
    return [SequenceClassifier(3, vocab_size=20, embedding_dim=8, hidden_size=8, pooling=pooling)
            for _ in range(k)]  # fmt: skip


def test_the_ensemble_predicts_the_mean_probability_and_trains_on_the_mean_loss():
    parts = members()
    ensemble = ClassifierEnsemble(parts)  # no dropout in these members: train mode is exact
    ids, targets = torch.randint(0, 20, (4, 7)), torch.tensor([0, 1, 2, 0])
    lengths = torch.tensor([7, 5, 3, 1])
    logits, loss = ensemble(ids, targets, lengths)
    alone = [m(ids, targets, lengths) for m in parts]
    mean = torch.stack([out.softmax(-1) for out, _ in alone]).mean(0)
    assert torch.allclose(logits.softmax(-1), mean, atol=1e-6)
    assert torch.allclose(loss, torch.stack([l for _, l in alone]).mean())  # each its own
    _, scored = ensemble.eval()(ids, targets, lengths)  # evaluation: the mean prediction's
    assert torch.allclose(scored, torch.nn.functional.nll_loss(mean.log(), targets), atol=1e-6)
    assert not torch.allclose(alone[0][0], alone[1][0])  # the members start apart
    weights = ensemble.attention_weights(ids, lengths)
    assert torch.allclose(weights.sum(-1), torch.ones(4)) and (weights[3, 1:] == 0).all()
    with pytest.raises(ValueError, match="at least 2 members"):
        ClassifierEnsemble(parts[:1])


def test_a_run_of_three_members_trains_loads_and_explains(tmp_path):
    data = write_csv(tmp_path / "reviews.csv", sentiment_rows(200, seed=5))
    out = tmp_path / "run"
    overrides = [f"data.source={json.dumps(str(data))}", "train.lr=0.01", *SMALL,
                 "model.ensemble=3", "model.pooling=attention", "train.epochs=4",
                 "model.kind=lstm", "model.bidirectional=false"]  # fmt: skip
    runner.train("classify", out, overrides=overrides, quiet=True)
    results = json.loads((out / "results.json").read_text())
    assert results["accuracy"] >= 0.8, results["report"]  # chance is 0.5
    run = load_run(out)
    assert isinstance(run.model, ClassifierEnsemble) and len(run.model.members) == 3
    (result,) = classify(run, ["a great film"], explain=True)
    assert sum(p for p in result["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert sum(w for _, w in result["weights"]) == pytest.approx(1, abs=1e-5)
    health = TestClient(create_app(out)).get("/healthz").json()
    assert health["model"] == "3 x 1x24 lstm" and health["explain"] is True
    with pytest.raises(ValueError, match="model.ensemble must be a positive number"):
        runner.train("classify", tmp_path / "bad", overrides=[*overrides, "model.ensemble=0"])
    assert not (tmp_path / "bad").exists()
