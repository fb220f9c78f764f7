"""`rnnkit serve` serves whichever task a run is: the task's routes, its page section, and
/healthz; the options of another task's server are refused in one line."""

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from rnnkit.cli import main
from rnnkit.serve.app import create_app
from rnnkit.tasks import runner

TINY = ["model.hidden_size=8", "model.num_layers=1", "train.quiet=true"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits") / "run"
    runner.train("classify", out, overrides=["train.epochs=1", *TINY])
    return out


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    t = np.arange(120)
    values = 10 + np.sin(2 * np.pi * t / 12)
    dates = pd.date_range("2000-01-01", periods=120, freq="MS")
    pd.DataFrame({"date": dates, "value": values}).to_csv(folder / "s.csv", index=False)
    overrides = [
        f"data.source={json.dumps(str(folder / 's.csv'))}",
        "data.horizon=6",
        "backtest.folds=2",
        'backtest.baselines=["naive"]',
        "train.epochs=1",
        *TINY,
    ]
    out, _ = runner.train("forecast", folder / "run", overrides=overrides)
    return out


def test_a_classifier_serves_classify_and_its_page(digits_run):
    with TestClient(create_app(digits_run)) as client:
        image = [[float(i % 16) for i in range(8)]] * 8  # 8 rows of 8 pixels
        answer = client.post("/classify", json={"inputs": [image, image], "top": 3})
        assert answer.status_code == 200
        results = answer.json()["results"]
        assert len(results) == 2 and len(results[0]["probabilities"]) == 3
        assert results[0]["label"] in answer.json()["classes"]
        bad = client.post("/classify", json={"inputs": [[[1.0, 2.0]]]})  # 2 numbers, not 8
        assert bad.status_code == 422 and "(T, 8)" in bad.json()["detail"]
        assert client.post("/classify", json={"inputs": []}).status_code == 422
        text = client.post("/classify", json={"inputs": ["a text"]})  # a numeric run
        assert text.status_code == 422 and "not texts" in text.json()["detail"]
        health = client.get("/healthz").json()
        assert health["task"] == "classify" and health["input_size"] == 8
        page = client.get("/").text
        assert "rnnkit classifier" in page and 'id="classify-form"' in page
        assert "POST /classify" in client.get("/section.js").text
        assert "/classify" in client.get("/openapi.json").json()["paths"]
        assert client.get("/complete", params={"q": "x"}).status_code == 404


def test_a_forecaster_serves_forecast_and_its_page(forecast_run):
    with TestClient(create_app(forecast_run)) as client:
        rows = client.get("/forecast", params={"horizon": 4}).json()["forecast"]
        assert len(rows) == 4 and rows[0]["date"] == "2010-01-01"
        assert all(r["lower"] <= r["value"] <= r["upper"] for r in rows)
        too_far = client.get("/forecast", params={"horizon": 7})
        assert too_far.status_code == 422 and "1 to 6 steps" in too_far.json()["detail"]
        assert client.get("/healthz").json()["horizon"] == 6
        assert 'id="forecast-form"' in client.get("/").text


def test_options_of_another_tasks_server_are_refused(digits_run, capsys):
    assert main(["serve", str(digits_run), "--int8"]) == 2
    err = capsys.readouterr().err
    assert "--int8 applies to lm runs only, not classify" in err and err.count("\n") == 1
