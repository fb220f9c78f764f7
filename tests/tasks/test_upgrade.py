"""Runs written before config.json had a format (format 1) still load and resume: settings
that moved are moved, and a setting whose meaning changed is translated."""

import json
import shutil

import pytest

from rnnkit.cli import main
from rnnkit.tasks import runner
from rnnkit.tasks.runner import load_run


def as_format_1(run_dir, bptt=35):
    """Rewrite a run's config.json as format 1 wrote it: no format, train.bptt."""
    saved = json.loads((run_dir / "config.json").read_text())
    del saved["format"]
    data = saved["config"].get("data", {})
    saved["config"]["train"]["bptt"] = data.pop("bptt", bptt)
    (run_dir / "config.json").write_text(json.dumps(saved))
    return saved


def test_a_format_1_language_model_loads_and_resumes(vegas_run, tmp_path, capsys):
    old = tmp_path / "old"
    shutil.copytree(vegas_run, old)
    as_format_1(old)
    lm = load_run(old)
    assert lm.config.data.bptt == 12 and not hasattr(lm.config.train, "bptt")
    assert main(["train", "lm", "--out", str(old), "--resume", "--quiet"]) == 0


def test_a_format_1_run_of_another_task_loads_and_resumes(tmp_path):
    out = tmp_path / "adding"
    tiny = ["data.length=8", "data.train_samples=64", "data.val_samples=32", "train.epochs=1"]
    runner.train("adding", out, overrides=tiny, quiet=True)
    as_format_1(out)  # every task's train section held bptt then
    assert load_run(out).config.data.length == 8
    assert main(["train", "adding", "--out", str(out), "--resume", "--quiet"]) == 0


def test_a_format_1_copy_run_kept_the_delay_in_data_length(tmp_path):
    out = tmp_path / "copy"
    tiny = ["data.length=30", "data.train_samples=64", "data.val_samples=32", "train.epochs=1"]
    runner.train("copy", out, overrides=tiny, quiet=True)
    saved = as_format_1(out)
    saved["config"]["data"]["length"] = 10  # the delay: T = 10 + 2 * 10 symbols
    (out / "config.json").write_text(json.dumps(saved))
    assert load_run(out).config.data.length == 30


def test_a_config_from_a_newer_rnnkit_is_refused(vegas_run, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(vegas_run, new)
    saved = json.loads((new / "config.json").read_text())
    (new / "config.json").write_text(json.dumps(saved | {"format": 99}))
    with pytest.raises(ValueError, match="has format 99; this rnnkit reads formats 1 to 2"):
        load_run(new)
