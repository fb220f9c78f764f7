"""The command line: one-line errors with exit status 2, nothing written on bad input."""

import json

import pytest

from rnnkit.cli import main

TINY = [
    "data.length=12",
    "data.train_samples=128",
    "data.val_samples=64",
    "model.hidden_size=8",
    "train.epochs=1",
]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_gradcheck_json_reports_every_configuration(capsys):
    code, out, _ = run(capsys, "gradcheck", "--json")
    report = json.loads(out)
    assert code == 0 and report["passed"] and len(report["rows"]) == 16


def test_train_writes_a_run_directory_and_resume_continues_it(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run(capsys, "train", "adding", "--out", str(out), "--quiet", *TINY)
    assert code == 0 and f"trained adding into {out}" in stdout
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "metrics.jsonl", "loss.png", "checkpoint"} <= names
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "adding" and config["config"]["model"]["hidden_size"] == 8
    weights = (out / "model.safetensors").read_bytes()
    assert run(capsys, "train", "adding", "--out", str(out), "--resume", "--quiet")[0] == 0
    assert (out / "model.safetensors").read_bytes() == weights  # nothing left to train


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "sorting"], "task must be one of adding, caption, classify, copy"),
        (["train", "adding", "model.hidden=3"], "unknown setting model.hidden; valid settings"),
        (["train", "adding", "train.lr=fast"], "train.lr must be float, got 'fast'"),
        (["train", "adding", "model.kind=tree"], "model.kind must be one of"),
        (["train", "adding", "train.epochs=0"], "train.epochs must be at least 1, got 0"),
        (["train", "adding", "--config", "missing.toml"], "config file missing.toml does not"),
        (["train", "adding", "--resume"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    code, _, err = run(capsys, *argv, "--out", str(out))
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and err.startswith("rnnkit: error: ")
    assert not out.exists()


def test_an_existing_run_directory_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "train", "adding", "--out", str(out), *TINY)
    assert code == 2 and "already exists; resume it with --resume" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_resume_refuses_overrides(tmp_path, capsys):
    code, _, err = run(capsys, "train", "adding", "--out", str(tmp_path), "--resume", "train.lr=1")
    assert code == 2 and "drop the overrides" in err


def test_diagnose_writes_the_report_and_plots(tmp_path, capsys):
    out = tmp_path / "diag"
    argv = ["diagnose", "--length", "12", "--hidden-size", "8", "--clip-steps", "5"]
    argv += ["--train-steps", "5"]
    code, stdout, _ = run(capsys, *argv, "--kinds", "rnn_tanh,lstm", "--out", str(out))
    assert code == 0 and "rnn_tanh" in stdout and "clip_norm" in stdout
    assert {p.name for p in out.iterdir()} == {
        "diagnostics.json",
        "gradient_flow.png",
        "clipping.png",
    }


def test_diagnose_a_trained_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert run(capsys, "train", "adding", "--out", str(run_dir), "--quiet", *TINY)[0] == 0
    code, stdout, _ = run(capsys, "diagnose", str(run_dir), "--json")
    report = json.loads(stdout)
    assert code == 0 and report["models"][0]["kind"] == "lstm" and report["length"] == 12
    assert (run_dir / "diagnostics" / "gradient_flow.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["diagnose", "--kinds", "lstm,tree"], "kinds must be a non-empty list of"),
        (["diagnose", "--length", "1"], "length must be an int of at least 2"),
        (["diagnose", "no-such-run"], "run directory no-such-run does not exist"),
    ],
)
def test_diagnose_bad_input(tmp_path, capsys, argv, message):
    code, _, err = run(capsys, *argv, "--out", str(tmp_path / "out"))
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_optional_settings_can_be_switched_off_and_paths_fail_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "adding", "--out", str(out), "--quiet", "train.clip_norm=none", *TINY]
    assert run(capsys, *argv)[0] == 0
    assert json.loads((out / "config.json").read_text())["config"]["train"]["clip_norm"] is None
    assert json.loads((out / "config.json").read_text())["config"]["train"]["quiet"] is False
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    code, _, err = run(capsys, "train", "adding", "--out", str(blocked / "run"), *TINY)
    assert code == 2 and err.count("\n") == 1 and str(blocked) in err


def test_resume_checks_the_task_and_diagnose_run_refuses_experiment_flags(tmp_path, capsys):
    out = tmp_path / "run"
    assert run(capsys, "train", "adding", "--out", str(out), "--quiet", *TINY)[0] == 0
    code, _, err = run(capsys, "train", "copy", "--out", str(out), "--resume")
    assert code == 2 and "is a 'adding' run, not 'copy'" in err
    code, _, err = run(capsys, "diagnose", str(out), "--length", "50")
    assert code == 2 and "--length only apply without a run directory" in err


def test_a_reader_that_goes_away_is_not_an_error():
    """`rnnkit ... | head`: the pipe closes before rnnkit writes; it exits 0, silently."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "gradcheck"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # like `head` that has read its lines
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0 and err == b"", err.decode()


def test_tasks_may_share_a_flag_and_a_switch_of_one_task_is_no_one_elses(tmp_path, capsys):
    """Two tasks declare --target, each with its own type; another declares a switch.
    Each run reads the flag its own way, and a task without it refuses it in one line."""
    from rnnkit.tasks import base
    from rnnkit.tasks.base import Option

    adding = base.get_task("adding")
    fake = type(adding)(adding.problem, "a second adding problem")
    fake.name = "adding2"
    fake.train_options = (
        Option("--target", "data.length", "adding2: the length", type=int),
        Option("--fast", "train.max_steps", "adding2: one step", type=None),
    )
    base.register(fake)
    try:
        tiny = ["data.train_samples=64", "data.val_samples=32", "train.epochs=1", "--quiet"]
        out = tmp_path / "run"
        assert main(["train", "adding2", "--target", "9", "--out", str(out), *tiny]) == 0
        assert json.loads((out / "config.json").read_text())["config"]["data"]["length"] == 9
        assert main(["train", "adding", "--out", str(tmp_path / "plain"), *tiny]) == 0
        capsys.readouterr()
        assert main(["train", "adding", "--fast", "--out", str(tmp_path / "x"), *tiny]) == 2
        assert "--fast applies to adding2 runs only, not adding" in capsys.readouterr().err
        assert main(["train", "adding2", "--target", "nine", "--out", str(tmp_path / "y")]) == 2
        assert "--target must be int, got 'nine'" in capsys.readouterr().err
        assert main(["train", "copy", "--data", "stdlib", "--out", str(tmp_path / "z")]) == 2
        assert "--data does not apply to copy" in capsys.readouterr().err
    finally:
        del base.REGISTRY["adding2"]
