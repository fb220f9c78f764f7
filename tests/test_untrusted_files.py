"""A run directory from someone else is data, never code: a pickle placed where a run keeps
its weights (``model.safetensors``) or its checkpoints (``checkpoint/*.pt``, with a sidecar
that vouches for it) is refused by every command that loads a run, in one line, exit 2,
and the code in it never runs."""

import csv
import json
import shutil
import socket

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.cli import main
from rnnkit.tasks import runner
from rnnkit.train.checkpoint import FORMAT, VERSION, checkpoints, sha256, sidecar_path

TINY = ["model.hidden_size=8", "model.num_layers=1", "train.quiet=true", "train.epochs=1"]


class Payload:
    """Unpickling it runs ``open(marker, "w").write(...)``: what a hostile file would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('the payload ran')",)


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reviews")
    with open(folder / "reviews.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(40):
            writer.writerow(["a fine film" if i % 2 else "a dull film", "pos" if i % 2 else "neg"])
    overrides = [f"data.source={json.dumps(str(folder / 'reviews.csv'))}",
                 "data.min_count=1", "model.embedding_dim=8", *TINY]  # fmt: skip
    out, _ = runner.train("classify", folder / "run", overrides=overrides, quiet=True)
    return out


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    t = np.arange(120)
    dates = pd.date_range("2000-01-01", periods=120, freq="MS")
    frame = pd.DataFrame({"date": dates, "value": 10 + np.sin(2 * np.pi * t / 12)})
    frame.to_csv(folder / "s.csv", index=False)
    overrides = [f"data.source={json.dumps(str(folder / 's.csv'))}", "data.horizon=6",
                 "backtest.folds=2", 'backtest.baselines=["naive"]', "model.ensemble=1",
                 *TINY]  # fmt: skip
    out, _ = runner.train("forecast", folder / "run", overrides=overrides, quiet=True)
    return out


# task -> the commands that load a run of it; RUN, OUT and DATA are filled in per test.
COMMANDS = {
    "lm": [
        ["complete", "RUN", "in las"],
        ["generate", "RUN", "--length", "3"],
        ["export", "RUN", "--onnx", "--out", "OUT"],
        ["serve", "RUN", "--port", "PORT"],
        ["diagnose", "RUN", "--out", "OUT"],
        ["train", "lm", "--out", "RUN", "--resume", "--quiet"],
    ],
    "classify": [
        ["classify", "RUN", "--text", "a fine film"],
        ["evaluate", "RUN", "--data", "DATA", "--out", "OUT"],
        ["serve", "RUN", "--port", "PORT"],
        ["diagnose", "RUN", "--out", "OUT"],
        ["train", "classify", "--out", "RUN", "--resume", "--quiet"],
    ],
    "forecast": [
        ["forecast", "RUN", "--horizon", "3"],
        ["serve", "RUN", "--port", "PORT"],
        ["diagnose", "RUN", "--out", "OUT"],
        ["train", "forecast", "--out", "RUN", "--resume", "--quiet"],
    ],
}
CASES = [(task, argv) for task, commands in COMMANDS.items() for argv in commands]


def poison(run, payload):
    """``payload`` in place of the weights and of every checkpoint, each checkpoint's sidecar
    rewritten to vouch for it (size and SHA-256), as a careful attacker would."""
    (run / "model.safetensors").write_bytes(payload)
    found = checkpoints(run / "checkpoint")
    assert found, f"{run} has no checkpoint to replace"
    for path in found:
        path.write_bytes(payload)
        sidecar = json.loads(sidecar_path(path).read_text())
        sidecar |= {"bytes": len(payload), "sha256": sha256(payload)}
        sidecar_path(path).write_text(json.dumps(sidecar))


@pytest.mark.parametrize(("task", "argv"), CASES, ids=[f"{t}-{a[0]}" for t, a in CASES])
def test_a_pickle_in_a_run_is_refused_and_never_runs(
    task, argv, request, tmp_path, capsys, monkeypatch
):
    marker = tmp_path / "marker"
    file = tmp_path / "payload.pt"
    torch.save({"format": FORMAT, "version": VERSION, "model": Payload(marker)}, file)
    torch.load(file, weights_only=False)  # the payload is live: loaded trustingly, it runs
    assert marker.exists()
    marker.unlink()
    source = request.getfixturevalue({"lm": "vegas_run"}.get(task, f"{task}_run"))
    run = tmp_path / "run"
    shutil.copytree(source, run)
    poison(run, file.read_bytes())
    bound = []
    monkeypatch.setattr(socket.socket, "bind", lambda sock, address: bound.append(address))
    data = json.loads((run / "config.json").read_text())["config"]["data"]["source"]
    fill = {"RUN": str(run), "OUT": str(tmp_path / "out"), "DATA": data, "PORT": "0"}
    code = main([fill.get(a, a) for a in argv])
    err = capsys.readouterr().err
    assert not marker.exists(), "the pickle's code ran"
    assert code == 2, err
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1, err
    refused = "step-" if argv[0] == "train" else "model.safetensors"
    assert refused in err, err  # refused by the reader of that file, not for another reason
    assert bound == [], "serve bound a port before loading the run"
