"""A panel: many series, one network trained on all their windows, each series scored."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient

from rnnkit.cli import main
from rnnkit.serve.app import create_app
from rnnkit.tasks import runner
from rnnkit.tasks.forecast.panel import (
    geometric_mean,
    panel_files,
    panel_summary,
    prepare_panel,
)
from rnnkit.tasks.forecast.task import DataConfig, ForecastConfig
from rnnkit.tasks.runner import check_same_artefacts, load_run_of

# Two monthly series of very different sizes with one shape: a trend and a season.
SIZES = {"large": 5000.0, "small": 2.0}


def panel_csv(path, months=(180, 150)):
    rng = np.random.default_rng(0)
    rows = []
    for (name, size), T in zip(SIZES.items(), months, strict=True):
        t = np.arange(T)
        y = size * (1 + 0.004 * t + 0.15 * np.sin(2 * np.pi * t / 12))
        y += size * 0.01 * rng.normal(size=T)
        dates = pd.date_range("2005-01-01", periods=T, freq="MS").strftime("%Y-%m-%d")
        rows += [{"unique_id": name, "ds": d, "y": v} for d, v in zip(dates, y, strict=True)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


TINY = ["model.hidden_size=16", "model.ensemble=1", "train.max_steps=300", "train.quiet=true",
        "backtest.folds=3",
        'data.calendar=["month"]', 'backtest.baselines=["naive", "seasonal_naive"]']  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("panel")
    source = panel_csv(folder / "panel.csv")
    settings = [f"data.source={json.dumps(str(source))}", *TINY]
    out, trained = runner.train("forecast", folder / "run", overrides=settings)
    return out, trained.results, source


def test_a_panel_of_two_series_trains_one_network_and_scores_both(run):
    out, results, _ = run
    assert list(results["series"]) == ["large", "small"]
    for name in SIZES:
        table = results["series"][name]["table"]
        assert set(table) == {"rnnkit", "naive", "seasonal_naive"}
        # One network learned the season of both, whatever their size.
        assert table["rnnkit"]["mase"] < 0.6 * table["seasonal_naive"]["mase"], (name, table)
    summary = results["panel"]
    assert summary["series"] == 2 and summary["relative_to"] == "naive"
    expected = geometric_mean(
        results["series"][n]["table"]["rnnkit"]["mase"]
        / results["series"][n]["table"]["naive"]["mase"]
        for n in SIZES
    )
    assert summary["geomean"]["rnnkit"] == pytest.approx(expected)
    assert "MASE by series" in results["report"] and "geometric mean / naive" in results["report"]
    # One set of weights; each series has its own scaling and history.
    assert len(list(out.glob("*.safetensors"))) == 1
    saved = json.loads((out / "series.json").read_text())
    assert saved["columns"] == ["value"] and set(saved["panel"]) == set(SIZES)
    assert set(saved["interval_scale"]) == set(SIZES)  # written after training, beside
    # what training wrote: a resumed or diagnosed run still finds its data unchanged.
    config = load_run_of("forecast", out).config
    check_same_artefacts(out, panel_files(config, prepare_panel(config)))
    frame = pd.read_csv(out / "backtest.csv")
    assert list(frame.columns[:2]) == ["series", "origin"] and set(frame.series) == set(SIZES)


def test_the_panels_windows_are_every_series_windows_and_end_at_one_date(tmp_path):
    source = panel_csv(tmp_path / "p.csv")  # "small" ends 30 months before "large"
    panel = prepare_panel(ForecastConfig(data=DataConfig(source=str(source))))
    members = list(panel.members.values())
    assert len({p.layout.input_length for p in members}) == 1  # one L for all
    first = min(p.series.frame.index[p.layout.test_origins[0]] for p in members)
    for p in members:
        # No training or validation target, and no row the scaling saw, on or after the
        # earliest origin of any series.
        cut = p.layout
        last = max(cut.train_origins.max(), cut.val_origins.max()) + cut.horizon - 1
        assert p.series.frame.index[last] < first
        assert p.series.frame.index[cut.train_end - 1] < first
    large = panel.members["large"]
    assert large.series.frame.index[large.layout.train_end] == first  # cut before its own
    assert large.layout.train_end < large.layout.test_origins[0]
    for part in ("train", "val"):
        together = panel.part(part)["inputs"]
        alone = torch.cat([p.part(part)["inputs"] for p in members])
        assert torch.equal(together, alone)


def test_each_series_is_forecast_by_name_from_the_command_line_and_http(run, capsys):
    out, _, source = run
    assert main(["forecast", str(out), "--series", "small", "--json"]) == 0
    small = json.loads(capsys.readouterr().out)
    assert small["target"] == "small" and small["forecast"][0]["date"] == "2017-07-01"
    assert 2.5 < small["forecast"][0]["value"] < 4.0  # in the small series' own units
    assert main(["forecast", str(out)]) == 0
    assert "(series 'large', the first of 2: --series chooses another)" in capsys.readouterr().out
    loaded = load_run_of("forecast", out)
    large = loaded.task.predict(loaded, [None])[0]  # default: the first series
    assert large["target"] == "large" and large["forecast"][0]["date"] == "2020-01-01"
    again = loaded.task.predict(loaded, [str(source)], series="small")[0]
    assert again["forecast"] == small["forecast"]  # from the file: the same end, the same forecast
    assert main(["forecast", str(out), "--series", "medium"]) == 2
    err = capsys.readouterr().err
    assert "this run has no series 'medium'; it forecasts 'large', 'small'" in err
    assert err.count("\n") == 1
    with TestClient(create_app(out)) as client:
        assert client.get("/healthz").json()["series"] == ["large", "small"]
        rows = client.get("/forecast", params={"series": "small", "horizon": 3}).json()
        assert rows["forecast"] == small["forecast"][:3]
        assert client.get("/forecast", params={"series": "medium"}).status_code == 422


def test_a_series_too_short_for_the_panel_is_named_and_nothing_is_written(tmp_path, capsys):
    source = panel_csv(tmp_path / "p.csv", months=(96, 30))
    out = tmp_path / "run"
    argv = ["train", "forecast", f"data.source={source}", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "series 'small': the series has 30 steps, too few for 3 backtest origins" in err
    assert not out.exists()


def test_the_panel_summary_is_the_geometric_mean_of_relative_mase():
    def table(net, ets, naive, coverage):
        return {"rnnkit": {"mase": net, "coverage": coverage}, "naive": {"mase": naive},
                "ets": {"mase": ets}}  # fmt: skip

    tables = {"a": table(0.5, 1.0, 2.0, 0.9), "b": table(2.0, 1.0, 1.0, 0.7)}
    summary = panel_summary(tables, 0.9)
    assert summary["relative_to"] == "ets"
    assert summary["geomean"]["rnnkit"] == pytest.approx(1.0)  # sqrt(0.5 * 2)
    assert summary["geomean"]["naive"] == pytest.approx(math.sqrt(2.0))
    assert summary["wins"] == 1 and summary["coverage_held"] == 1
    assert "outside: b 70%" in summary["verdict"][-1]
    assert "the network is NOT better on the typical series" in summary["verdict"][1]
    # A perfect reference on one series leaves that series out of the means, not the run.
    tables["c"] = table(0.5, 0.0, 0.0, 0.9)
    again = panel_summary(tables, 0.9)
    assert again["geomean"]["rnnkit"] == pytest.approx(1.0)
    assert "1 of 3 series left out of the geometric means" in again["verdict"][2]


def test_a_series_that_starts_after_the_panels_cut_is_named(tmp_path):
    source = panel_csv(tmp_path / "p.csv")
    frame = pd.read_csv(source)
    late = frame[frame.unique_id == "small"].assign(
        unique_id="late",
        ds=pd.date_range("2016-01-01", periods=150, freq="MS").strftime("%Y-%m-%d"),
    )
    pd.concat([frame, late]).to_csv(source, index=False)
    with pytest.raises(ValueError) as error:
        prepare_panel(ForecastConfig(data=DataConfig(source=str(source))))
    assert str(error.value).startswith("series 'late' has too few steps before ")
    assert "(the first backtest origin of series 'small')" in str(error.value)
    assert str(error.value).endswith(
        "even with 3 origins 1 apart and input length 12; leave it out of the panel, or "
        "shorten data.horizon"
    )


def test_series_that_end_together_share_one_backtest_and_lose_no_training_data(tmp_path):
    # 300 and 80 months, both ending in December 2020: alone, the long one would take ten
    # yearly origins; together, both take the folds the short one has room for.
    rows = []
    for name, months in (("long", 300), ("short", 80)):
        dates = pd.date_range(end="2020-12-01", periods=months, freq="MS").strftime("%Y-%m-%d")
        values = 10 + np.sin(2 * np.pi * np.arange(months) / 12)
        rows += [{"unique_id": name, "ds": d, "y": v} for d, v in zip(dates, values, strict=True)]
    pd.DataFrame(rows).to_csv(tmp_path / "p.csv", index=False)
    panel = prepare_panel(ForecastConfig(data=DataConfig(source=str(tmp_path / "p.csv"))))
    cuts = {name: p.layout for name, p in panel.members.items()}
    dates = {name: p.series.frame.index for name, p in panel.members.items()}
    assert [dates[n][cuts[n].test_origins].tolist() for n in cuts] == 2 * [
        dates["short"][cuts["short"].test_origins].tolist()
    ]
    for cut in cuts.values():
        assert cut.train_end == cut.test_origins[0]  # nothing lost to the common cut
        assert cut.chosen.startswith("chosen for the panel: ")


def test_a_hybrid_panel_of_two_networks_trains_backtests_and_forecasts(tmp_path, capsys):
    source = panel_csv(tmp_path / "p.csv")
    out, trained = runner.train("forecast", tmp_path / "run", quiet=True, overrides=[
        f"data.source={json.dumps(str(source))}", "model.strategy=hybrid", "model.ensemble=2",
        "model.hidden_size=8", "train.max_steps=20", "backtest.folds=3",
        'backtest.baselines=["naive"]',
    ])  # fmt: skip
    assert set(trained.results["series"]) == set(SIZES)
    assert "the median of 2 networks" in trained.results["report"]
    saved = json.loads((out / "series.json").read_text())
    assert all("hybrid" in own for own in saved["panel"].values())  # each its own smoothing
    assert (out / "members" / "2" / "model.safetensors").exists()
    assert main(["forecast", str(out), "--series", "small", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["forecast"]
    assert len(rows) == 12 and 1.0 < rows[0]["value"] < 5.0
