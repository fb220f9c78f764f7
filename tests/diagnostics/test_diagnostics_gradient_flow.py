"""measure_gradient_flow against torch stepped one cell call at a time (float64), saturation on
hand-set gates, and the refusals."""

import itertools

import numpy as np
import pytest
import torch
from diagnostics_fixtures import H, Probe, T, TimeFirst, batch, stepped_hidden_grad_norms
from torch import nn

from rnnkit.diagnostics import GradientFlow, measure_gradient_flow
from rnnkit.layers import Recurrent

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
CONFIGS = list(itertools.product(KINDS, (1, 2), (False, True)))
IDS = [f"{kind}-L{layers}-D{2 if bi else 1}" for kind, layers, bi in CONFIGS]


@pytest.mark.parametrize(("kind", "layers", "bidirectional"), CONFIGS, ids=IDS)
def test_norms_equal_torch_stepped_cell_by_cell(kind, layers, bidirectional):
    torch.manual_seed(0)
    model = Probe(kind, layers, bidirectional)
    data = batch(kind, layers, 2 if bidirectional else 1)
    flow = measure_gradient_flow(model, data)

    expected = stepped_hidden_grad_norms(
        model.rnn.rnn,
        data["inputs"],
        data["state"],
        lambda out, final: model.loss(out, final, data["targets"]),
    )
    np.testing.assert_allclose(flow.norms(), expected, rtol=1e-9)
    assert flow.loss == pytest.approx(model(**data)[1].item())
    for row in flow.flows:  # summaries in each direction's order of processing
        first, last = (row.norms[0], row.norms[-1])[:: -1 if row.direction else 1]
        assert row.ratio == pytest.approx(first / last)
        assert row.factor ** (T - 1) == pytest.approx(row.ratio)


def test_merged_directions_and_zero_initial_state():
    torch.manual_seed(1)
    model = Probe("gru", 1, bidirectional=True, merge="sum")
    data = batch("gru", with_state=False)
    flow = measure_gradient_flow(model, data)

    def merge(out):  # (N, T, 2H) -> (N, T, H), what merge="sum" does
        return out[..., :H] + out[..., H:]

    expected = stepped_hidden_grad_norms(
        model.rnn.rnn,
        data["inputs"],
        None,
        lambda out, final: model.loss(out, final, data["targets"]),
        merge,
    )
    np.testing.assert_allclose(flow.norms(), expected, rtol=1e-9)


def test_time_first_torch_module_with_loss_on_the_final_state_only():
    torch.manual_seed(2)
    model = TimeFirst()
    data = batch("gru", with_state=False)
    flow = measure_gradient_flow(model, data)

    expected = stepped_hidden_grad_norms(
        model.rnn,
        data["inputs"],
        None,
        lambda out, final: model.loss(out, final, data["targets"]),
    )
    np.testing.assert_allclose(flow.norms(), expected, rtol=1e-9)


def test_float32_model_is_measured_in_float64_from_its_own_weights():
    torch.manual_seed(3)
    model = Probe("lstm", 2)
    data = batch("lstm", 2)
    expected = measure_gradient_flow(model, data).norms()
    model.float()
    data32 = {k: v.float() for k, v in data.items() if k != "state"}
    data32["state"] = tuple(s.float() for s in data["state"])
    np.testing.assert_allclose(measure_gradient_flow(model, data32).norms(), expected, rtol=1e-4)


def test_parameter_gradients_are_left_alone():
    model = Probe("rnn_tanh")
    measure_gradient_flow(model, batch("rnn_tanh"))
    assert all(p.grad is None for p in model.parameters())


def _constant_gates(kind, biases):
    """A Probe whose gates do not depend on the data: zero weights, ``biases`` per gate."""
    model = Probe(kind)
    with torch.no_grad():
        for name, param in model.rnn.rnn.named_parameters():
            param.zero_()
            if name == "bias_ih_l0":
                for k, value in enumerate(biases):
                    param[k * H : (k + 1) * H] = value
    return model


def test_lstm_saturation_and_mean_forget_gate():
    # i = sigmoid(0) = 0.5, f = sigmoid(3) = 0.9526 (saturated), g = tanh(-2) = -0.964, o = 0.5
    flow = measure_gradient_flow(_constant_gates("lstm", (0.0, 3.0, -2.0, 0.0)), batch("lstm"))
    saturation = flow.flows[0].saturation
    assert saturation == pytest.approx(
        {"i": 0.0, "f": 1.0, "f_mean": 1 / (1 + np.exp(-3.0)), "o": 0.0, "g": 1.0}
    )


def test_gru_saturation():
    # r = sigmoid(-4) = 0.018 (saturated), z = sigmoid(0) = 0.5, n = tanh(0.5 + ...) unsaturated
    flow = measure_gradient_flow(_constant_gates("gru", (-4.0, 0.0, 0.5)), batch("gru"))
    assert flow.flows[0].saturation == {"r": 1.0, "z": 0.0, "n": 0.0}


def test_dict_round_trip():
    flow = measure_gradient_flow(Probe("gru", 2, True), batch("gru", 2, 2))
    again = GradientFlow.from_dict(flow.to_dict())
    assert again == flow


class TwoRecurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = Recurrent("gru", 4, 5), Recurrent("gru", 5, 5)

    def forward(self, inputs, targets=None):
        out, _ = self.b(self.a(inputs)[0])
        return out, out.sum()


class TwiceCalled(Probe):
    def forward(self, inputs, targets=None, state=None):
        out, _ = self.rnn(inputs)
        out2, final = self.rnn(inputs)
        return out, self.loss(out + out2, final, targets)


class Packing(Probe):
    def forward(self, inputs, targets=None, state=None):
        lengths = torch.full((inputs.shape[0],), inputs.shape[1])
        out, final = self.rnn(inputs, state, lengths)
        return out, self.loss(out, final, targets)


def test_refusals_say_what_to_do():
    data = batch("gru", with_state=False)
    with pytest.raises(ValueError, match="drop 'lengths'"):
        measure_gradient_flow(Probe("gru"), {**data, "lengths": torch.tensor([6, 5, 4])})
    with pytest.raises(ValueError, match="one recurrent module at a time.*found 2"):
        measure_gradient_flow(TwoRecurrent().double(), data)
    with pytest.raises(ValueError, match="ran 2 times"):
        measure_gradient_flow(TwiceCalled("gru"), data)
    with pytest.raises(ValueError, match="packed sequence"):
        measure_gradient_flow(Packing("gru"), data)
    with pytest.raises(ValueError, match="scalar loss.*include the targets"):
        measure_gradient_flow(Probe("gru"), {"inputs": data["inputs"]})
    with pytest.raises(ValueError, match=r"torch.no_grad\(\)"), torch.no_grad():
        measure_gradient_flow(Probe("gru"), data)


def test_dropout_between_layers_needs_eval_mode():
    model = Probe("lstm", 2)
    model.rnn.rnn.dropout = 0.5
    data = batch("lstm", 2)
    with pytest.raises(ValueError, match=r"call model.eval\(\)"):
        measure_gradient_flow(model, data)
    assert measure_gradient_flow(model.eval(), data).num_layers == 2
