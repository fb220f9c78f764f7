"""Weights move between torch modules and the reference unchanged, or fail with clear errors."""

import numpy as np
import pytest
import torch
from reference_fixtures import CONFIG_IDS, CONFIGS, H, I, as_tuple, problem, to_numpy
from torch import nn

from rnnkit.layers import Recurrent
from rnnkit.reference import (
    forward,
    kind_of,
    make_torch_module,
    params_from_torch,
    params_to_torch,
    state_from_torch,
)


@pytest.mark.parametrize(("kind", "layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_round_trip(kind, layers, bidirectional):
    torch.manual_seed(0)
    module = make_torch_module(kind, I, H, layers, bidirectional)
    params = params_from_torch(module)
    assert list(params) == [name for name, _ in module.named_parameters()]
    assert kind_of(module) == kind

    other = params_to_torch(params, make_torch_module(kind, I, H, layers, bidirectional))
    for name, value in params_from_torch(other).items():
        np.testing.assert_array_equal(value, params[name])


@pytest.mark.parametrize("kind", ["rnn_relu", "lstm", "gru"])
def test_recurrent_wrapper_and_float32(kind):
    """rnnkit's Recurrent holds its module as `.rnn`: names match by their last component."""
    layer = Recurrent(kind, I, H, num_layers=2, bidirectional=True)
    params = params_from_torch(layer)
    assert "weight_ih_l1_reverse" in params
    assert all(value.dtype == np.float64 for value in params.values())

    params_new, x, state = problem(kind, 2, True)
    params_to_torch(params_new, layer)
    assert layer.rnn.weight_hh_l0.dtype == torch.float32  # values cast to the module's dtype
    state32 = tuple(torch.tensor(s, dtype=torch.float32) for s in as_tuple(state))
    out_t, final_t = layer(
        torch.tensor(x, dtype=torch.float32), state32 if kind == "lstm" else state32[0]
    )
    out, final, _ = forward(kind, params_new, x, state)
    np.testing.assert_allclose(to_numpy(out_t), out, atol=1e-5)
    for ours, theirs in zip(as_tuple(final), as_tuple(state_from_torch(final_t)), strict=True):
        np.testing.assert_allclose(theirs, ours, atol=1e-5)


def test_a_model_with_other_parameters():
    model = nn.Sequential(nn.GRU(I, H, batch_first=True), nn.Linear(H, 2))
    params = params_from_torch(model)
    assert sorted(params) == ["bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_ih_l0"]
    params_to_torch({name: np.zeros_like(v) for name, v in params.items()}, model)
    assert not model[0].weight_hh_l0.detach().any()
    assert model[1].weight.detach().any()


def test_mismatched_params_name_what_was_expected_and_found():
    module = make_torch_module("lstm", I, H, num_layers=2)
    params = params_from_torch(module)
    message = r"params do not fit LSTM\(input_size=4, hidden_size=5, num_layers=2"
    with pytest.raises(ValueError, match=message + r".*missing weight_hh_l1"):
        params_to_torch({k: v for k, v in params.items() if k != "weight_hh_l1"}, module)
    with pytest.raises(ValueError, match=r"unexpected weight_ih_l0_reverse"):
        params_to_torch({**params, "weight_ih_l0_reverse": params["weight_ih_l0"]}, module)
    with pytest.raises(ValueError, match=r"weight_ih_l0 has shape \(20, 3\), expected \(20, 4\)"):
        params_to_torch({**params, "weight_ih_l0": np.zeros((20, 3))}, module)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (nn.Linear(2, 2), "exactly one nn.RNN, nn.LSTM or nn.GRU, found 0"),
        (nn.ModuleList([nn.GRU(2, 2), nn.LSTM(2, 2)]), r"found 2: 0 \(GRU\), 1 \(LSTM\)"),
        (nn.LSTM(2, 4, proj_size=2), "expected an LSTM with proj_size=0, found proj_size=2"),
        (nn.RNN(2, 2, bias=False), "expected a recurrent module with bias=True"),
    ],
)
def test_unsupported_modules(module, message):
    with pytest.raises(ValueError, match=message):
        params_from_torch(module)
