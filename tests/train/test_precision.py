"""train.precision: auto uses bf16 on a GPU, and on a CPU only with bf16 instructions for a
task whose scores hold in bf16."""

import pytest
import torch
from trainer_fixtures import SequenceRegressor, quiet_config, sum_task

from rnnkit.train import precision
from rnnkit.train.trainer import Trainer

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def flags(monkeypatch):
    """Set the CPU's bf16 instruction sets the module sees."""

    def set_flags(*names):
        monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: list(names))

    return set_flags


@pytest.mark.parametrize(
    ("setting", "device", "has", "allows", "expected"),
    [
        ("fp32", CUDA, ["amx_bf16"], True, False),
        ("bf16", CPU, [], False, True),  # asked for: even emulated
        ("auto", CUDA, [], False, True),
        ("auto", CPU, ["amx_bf16"], True, True),
        ("auto", CPU, ["avx512_bf16"], True, True),
        ("auto", CPU, [], True, False),  # no instructions: emulated bf16 is slower
        ("auto", CPU, ["amx_bf16"], False, False),  # the task has not shown its scores hold
    ],
)
def test_auto_needs_the_instructions_and_the_task(flags, setting, device, has, allows, expected):
    flags(*has)
    assert precision.use_bf16(setting, device, allows) is expected


def test_the_trainer_follows_the_decision(flags):
    flags("amx_bf16")
    model, data = SequenceRegressor(), sum_task(samples=32)
    assert Trainer(model, quiet_config(), data, bf16_on_cpu=True).bf16
    assert not Trainer(model, quiet_config(), data).bf16
    assert not Trainer(model, quiet_config(precision="fp32"), data, bf16_on_cpu=True).bf16
    flags()
    assert not Trainer(model, quiet_config(), data, bf16_on_cpu=True).bf16


def test_capabilities_name_the_cpu():
    line = precision.describe_cpu()
    assert "cores" in line
    assert set(precision.cpu_bf16_flags()) <= set(precision.BF16_FLAGS)
