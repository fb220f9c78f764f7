"""Tests run on one intra-op thread: their tensors are tiny, and on a busy machine
torch's pool makes every small op wait for a second core (about 100 times slower on a
shared 2-core box). Each test gets the caller's setting back."""

import json

import pytest
import torch

from rnnkit.tasks import runner


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


PHRASES = [
    "what is the best food to eat in las vegas",
    "we flew to las vegas last week",
    "the lights of las vegas never sleep",
    "my uncle moved to las vegas",
    "is it hot in las vegas in june",
    "the best food in town is pizza",
]


@pytest.fixture(scope="session")
def vegas_run(tmp_path_factory):
    """A `rnnkit train lm` run directory (word level, lowercase, 1x32 LSTM)."""
    folder = tmp_path_factory.mktemp("vegas-corpus")
    for i in range(60):
        (folder / f"doc{i:02d}.txt").write_text(PHRASES[i % len(PHRASES)] + "\n")
    out = tmp_path_factory.mktemp("vegas-runs") / "lm"
    overrides = [
        f"data.source={json.dumps(str(folder))}",
        "data.lowercase=true",
        "data.min_count=1",
        "model.embedding_dim=32",
        "model.hidden_size=32",
        "model.num_layers=1",
        "model.dropout=0.0",
        "train.epochs=15",
        "train.batch_size=4",
        "data.bptt=12",
        "train.lr=0.01",
        "train.warmup_steps=0",
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runner.train("lm", out, overrides=overrides, quiet=True)
    finally:
        torch.set_num_threads(threads)
    return out
