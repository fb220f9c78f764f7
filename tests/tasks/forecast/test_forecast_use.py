"""Using a forecast run: from its own files (never the training data), on a bundled series,
over HTTP, and the command's --plot and --horizon refused in one line before any work."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from rnnkit.cli import main
from rnnkit.serve.app import create_app
from rnnkit.tasks import runner
from rnnkit.tasks.forecast.task import prepare, series_file
from rnnkit.tasks.forecast.use import forecast
from rnnkit.tasks.runner import check_same_artefacts, load_run

TINY = ["backtest.folds=2", 'backtest.baselines=["naive"]', "model.hidden_size=8",
        "model.ensemble=1", "train.quiet=true"]  # fmt: skip


def write_series(path, values, freq="MS", date="date", column="value", start="2000-01-01"):
    dates = pd.date_range(start, periods=len(values), freq=freq)
    pd.DataFrame({date: dates, column: values}).to_csv(path, index=False)
    return path


def train(out, source, *overrides):
    return runner.train("forecast", out, quiet=True, overrides=[
        f"data.source={json.dumps(str(source))}", *TINY, "train.max_steps=5", *overrides,
    ])[0]  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    csv = write_series(folder / "s.csv", 10 + np.sin(np.arange(120) * np.pi / 6))
    return train(folder / "run", csv, "data.horizon=6")


def fails(capsys, argv, message):
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_a_run_forecasts_from_its_own_files_after_its_data_has_moved(tmp_path, capsys):
    # A gap near the end (interpolated) and calendar covariates: the saved history must
    # give the forecast the file gave, to the last bit.
    values = 10 + np.sin(np.arange(120) * np.pi / 6) + np.arange(120) / 50
    values[-4] = np.nan
    csv = write_series(tmp_path / "s.csv", values)
    out = train(tmp_path / "run", csv, "data.horizon=6", "data.missing=interpolate",
                'data.calendar=["month"]')  # fmt: skip
    from_file = forecast(load_run(out), str(csv))
    assert forecast(load_run(out)) == from_file
    assert len(from_file["history"]["values"]) == 4 * 6
    shutil.move(csv, tmp_path / "elsewhere.csv")
    fc = load_run(out)
    assert forecast(fc) == from_file
    assert forecast(fc, horizon=2)["forecast"] == from_file["forecast"][:2]
    assert main(["forecast", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["forecast"] == from_file["forecast"]
    with TestClient(create_app(out)) as client:
        answer = client.get("/forecast", params={"horizon": 6})
        assert answer.status_code == 200 and answer.json() == from_file


def test_a_run_from_before_ensembles_and_step_sizes_loads_and_resumes_as_it_was(tmp_path):
    # A run trained before model.ensemble, model.lookbacks and data.step_scale existed:
    # one network, changes scaled by their spread, and one interval factor for all steps.
    csv = write_series(tmp_path / "s.csv", 10 + np.sin(np.arange(120) * np.pi / 6))
    out = train(tmp_path / "run", csv, "data.horizon=6", "data.step_scale=std")
    saved = json.loads((out / "config.json").read_text())
    for section, key in (("model", "ensemble"), ("model", "lookbacks"), ("data", "step_scale")):
        del saved["config"][section][key]
    (out / "config.json").write_text(json.dumps(saved))
    series = json.loads((out / "series.json").read_text())
    series["interval_scale"] = 1.5
    (out / "series.json").write_text(json.dumps(series))
    fc = load_run(out)
    model, data = fc.config.model, fc.config.data
    assert (model.ensemble, model.lookbacks, data.step_scale) == (1, [1.0], "std")
    assert len(forecast(fc)["forecast"]) == 6
    check_same_artefacts(out, {"series.json": series_file(fc.config, prepare(fc.config))})


def test_a_damaged_history_is_one_clear_error(run, tmp_path):
    broken = tmp_path / "run"
    shutil.copytree(run, broken)
    saved = json.loads((broken / "history.json").read_text())
    saved["values"] = saved["values"][:-1]  # one row fewer than dates
    (broken / "history.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="history.json is missing or damaged"):
        load_run(broken)


def test_a_run_from_before_history_json_still_reads_its_data_source(run, tmp_path):
    old = tmp_path / "run"
    shutil.copytree(run, old)
    (old / "history.json").unlink()
    assert forecast(load_run(old)) == forecast(load_run(run))


def test_forecast_continues_a_bundled_series(tmp_path, capsys):
    sun = train(tmp_path / "sun", "sunspots")
    assert main(["forecast", str(sun), "--data", "sunspots", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["forecast"] == forecast(load_run(sun))["forecast"]
    # A run trained on a file (its own date column and frequency) continues the bundled
    # series of the same column at the same frequency; another frequency is refused.
    rng = np.random.default_rng(0)
    yearly = write_series(tmp_path / "y.csv", rng.uniform(0, 100, 120), freq="YS", date="year",
                          column="sunactivity", start="1800-01-01")  # fmt: skip
    mine = train(tmp_path / "yearly", yearly, 'data.date_column="year"', "data.horizon=5")
    assert main(["forecast", str(mine), "--data", "sunspots", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["forecast"]
    assert [row["date"] for row in rows[:2]] == ["2009-01-01", "2010-01-01"]
    monthly = write_series(tmp_path / "m.csv", rng.uniform(0, 100, 120), column="sunactivity")
    other = train(tmp_path / "monthly", monthly, "data.horizon=5")
    fails(capsys, ["forecast", other, "--data", "sunspots"],
          "sunspots has steps of YS-JAN; the run was trained on steps of MS")  # fmt: skip


def test_plot_paths_that_cannot_be_written_are_refused_before_the_forecast(run, tmp_path, capsys):
    folder = tmp_path / "plots"
    folder.mkdir()
    mine = folder / "mine.png"
    mine.write_text("a user's file")
    missing = tmp_path / "nodir" / "p.png"
    for argv, message in [
        ([missing], f"folder {missing.parent} does not exist; create it first"),
        ([folder], f"{folder} is a folder; give a file name such as {folder}/forecast.png"),
        ([folder, "--force"], f"{folder} is a folder"),
        ([mine / "p.png"], f"{mine} is a file, not a folder"),
        ([mine], "already exists; pass --force to replace it"),
    ]:
        # A run that does not exist: the plot is refused before the run is read.
        fails(capsys, ["forecast", tmp_path / "no-run", "--plot", *argv], message)
        fails(capsys, ["forecast", run, "--plot", *argv], message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots"]
    assert [p.name for p in folder.iterdir()] == ["mine.png"]
    assert mine.read_text() == "a user's file"


def test_a_horizon_beyond_the_run_is_refused_in_words_for_python_and_http(run, capsys):
    fc = load_run(run)
    for horizon in (0, 7):
        with pytest.raises(ValueError) as caught:
            forecast(fc, horizon=horizon)
        assert str(caught.value).startswith(f"this run forecasts 1 to 6 steps, got {horizon}")
        assert "--" not in str(caught.value)  # no command-line flag in a Python or HTTP error
    with TestClient(create_app(run)) as client:
        detail = client.get("/forecast", params={"horizon": 7}).json()["detail"]
        assert detail == (
            "this run forecasts 1 to 6 steps, got 7; train a run with data.horizon=7 for "
            "longer forecasts"
        )
    fails(capsys, ["forecast", run, "--horizon", "0"], "this run forecasts 1 to 6 steps, got 0")
