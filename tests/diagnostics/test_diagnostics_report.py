"""run_diagnose end to end on small settings: the JSON report round-trips, the plots are PNG
files, the summary table reads, and bad arguments get messages that say what to do."""

import re

import pytest

from rnnkit.diagnostics import format_summary, load_report, run_diagnose
from rnnkit.diagnostics.report import CLIPPING_PNG, FLOW_PNG, REPORT_JSON

SMALL = dict(length=25, hidden_size=8, batch_size=4, clip_steps=3)


def test_report_round_trips_and_plots_are_written(tmp_path):
    report = run_diagnose(out_dir=tmp_path, train_steps=1, **SMALL)
    assert report["files"] == [REPORT_JSON, FLOW_PNG, CLIPPING_PNG]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(report["files"])
    for name in (FLOW_PNG, CLIPPING_PNG):
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert load_report(tmp_path) == report
    assert load_report(tmp_path / REPORT_JSON) == report
    # 3 kinds x 2 inits x (initial, trained), one layer and direction each.
    assert len(report["models"]) == 12
    assert len(report["models"][0]["flows"][0]["norms"]) == 25


def test_json_only_and_no_clipping(tmp_path):
    report = run_diagnose(out_dir=tmp_path, json_only=True, kinds=("gru",), **SMALL)
    assert [p.name for p in tmp_path.iterdir()] == [REPORT_JSON]
    assert run_diagnose(**{**SMALL, "clip_steps": 0}, kinds=("gru",))["clipping"] is None
    assert report["files"] == [REPORT_JSON]


def test_nothing_is_written_without_out_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match="json_only=True has no effect without out_dir"):
        report = run_diagnose(
            task="copy", kinds=("lstm",), inits=("uniform",), json_only=True, **SMALL
        )
    assert report["files"] == [] and list(tmp_path.iterdir()) == []


def test_summary_table(tmp_path):
    report = run_diagnose(kinds=("rnn_tanh", "lstm"), inits=("uniform",), **SMALL)
    text = format_summary(report)
    rows = [line.split() for line in text.splitlines()]
    kinds = [row[0] for row in rows if row and row[0] in ("rnn_tanh", "lstm", "rnn_relu")]
    assert kinds == ["rnn_tanh", "lstm", "rnn_relu"]
    assert re.search(r"mean f 0\.7\d", text)  # forget bias 1: sigmoid(1) = 0.73
    assert "|dL/dh_1|" in text and "factor" in text
    assert "clip_norm" in text and "trained 3 steps, loss finite" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "parity"}, "task must be one of adding, copy"),
        ({"task": "copy", "length": 20}, "length must be an int of at least 21 for copy"),
        ({"kinds": "lstm"}, "kinds must be a non-empty list"),
        ({"kinds": ("lstm", "transformer")}, "kinds must be a non-empty list"),
        ({"inits": ("xavier",)}, "inits must be a non-empty list of uniform, orthogonal"),
        ({"hidden_size": 0}, "hidden_size must be an int of at least 1"),
        ({"train_steps": -1}, "train_steps must be an int of at least 0"),
        ({"seed": "0"}, "seed must be an int of at least 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_diagnose(**kwargs)
