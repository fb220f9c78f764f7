"""Runs saved by an earlier rnnkit still load: settings that moved are moved."""

import json
import shutil

from rnnkit.tasks.runner import load_run


def test_a_run_with_the_chunk_length_under_train_still_loads(vegas_run, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(vegas_run, old)
    saved = json.loads((old / "config.json").read_text())
    saved["config"]["train"]["bptt"] = saved["config"]["data"].pop("bptt")
    (old / "config.json").write_text(json.dumps(saved))
    lm = load_run(old)
    assert lm.config.data.bptt == 12 and not hasattr(lm.config.train, "bptt")
