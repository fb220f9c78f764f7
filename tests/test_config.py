"""Typed configs: strict loading from dicts, TOML files and command-line overrides."""

from dataclasses import dataclass, field
from typing import Literal

import pytest

from rnnkit.config import build, from_dict, merge_overrides, parse_override, to_dict


@dataclass
class Model:
    kind: Literal["lstm", "gru"] = "lstm"
    hidden_size: int = 32
    dropout: float = 0.0
    layers: list[int] = field(default_factory=lambda: [1])


@dataclass
class Run:
    model: Model = field(default_factory=Model)
    lr: float = 1e-3
    max_steps: int | None = None
    name: str = "run"


def test_defaults_round_trip_through_dicts():
    run = from_dict(Run, {"model": {"hidden_size": 64}, "lr": 1})
    assert run.model == Model(hidden_size=64) and run.lr == 1.0 and isinstance(run.lr, float)
    assert from_dict(Run, to_dict(run)) == run


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lr": "fast"}, "lr must be float, got 'fast'"),
        ({"model": {"hidden": 3}}, "unknown setting model.hidden; valid settings of model: kind"),
        ({"model": {"kind": "tree"}}, "model.kind must be one of 'lstm', 'gru', got 'tree'"),
        ({"model": {"hidden_size": True}}, "model.hidden_size must be int, got True"),
        ({"max_steps": 1.5}, "max_steps must be int, got 1.5"),
        ({"model": 3}, "model must be a table of settings, got 3"),
        ({"model": {"layers": 3}}, "model.layers must be a list, got 3"),
    ],
)
def test_bad_values_name_the_key_and_the_expected_type(data, message):
    with pytest.raises(ValueError, match=message):
        from_dict(Run, data)


def test_overrides_are_parsed_as_toml_values_or_words():
    assert parse_override("model.hidden_size=128") == (["model", "hidden_size"], 128)
    assert parse_override("lr=3e-4") == (["lr"], 3e-4)
    assert parse_override("model.kind=gru") == (["model", "kind"], "gru")
    assert parse_override("model.layers=[2, 3]") == (["model", "layers"], [2, 3])
    with pytest.raises(ValueError, match="section.key=value"):
        parse_override("lr")
    with pytest.raises(ValueError, match="lr is not a section"):
        merge_overrides({"lr": 1.0}, ["lr.x=2"])


@dataclass
class Tuned:
    model: Model = field(default_factory=lambda: Model(hidden_size=256, dropout=0.5))


def test_a_partly_set_section_keeps_the_defaults_its_parent_gives_it():
    tuned = build(Tuned, overrides=["model.kind=gru"])
    assert tuned.model == Model(kind="gru", hidden_size=256, dropout=0.5)


def test_toml_then_overrides_win_in_order(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('lr = 0.01\n[model]\nkind = "gru"\nhidden_size = 16\n')
    run = build(Run, base={"name": "base"}, toml=path, overrides=["model.hidden_size=8"])
    assert (run.name, run.lr, run.model.kind, run.model.hidden_size) == ("base", 0.01, "gru", 8)


def test_bad_toml_files_are_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file .*missing.toml does not exist"):
        build(Run, toml=tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = = 1\n")
    with pytest.raises(ValueError, match="bad.toml is not valid TOML"):
        build(Run, toml=bad)
