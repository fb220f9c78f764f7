"""The gradient check passes on the reference, and fails when a backward pass is wrong."""

import json

import numpy as np
import pytest

import rnnkit.reference.gru as gru_module
import rnnkit.reference.lstm as lstm_module
import rnnkit.reference.rnn as rnn_module
from rnnkit.reference import gradcheck


def test_run_all_passes_every_configuration():
    rows = gradcheck.run_all(tolerance=1e-6, seed=0)
    assert [(r.kind, r.num_layers, r.num_directions) for r in rows] == [
        (kind, layers, directions)
        for kind in ("rnn_tanh", "rnn_relu", "lstm", "gru")
        for layers in (1, 2)
        for directions in (1, 2)
    ]
    for row in rows:
        assert row.passed, row
        assert row.error_vs_finite_diff < 1e-8 and row.error_vs_torch < 1e-12, row
    report = json.loads(json.dumps([row.to_dict() for row in rows]))
    assert report[0]["kind"] == "rnn_tanh" and report[0]["passed"] is True
    table = gradcheck.format_table(rows, tolerance=1e-6)
    assert "16/16 configurations within 1e-06" in table
    assert len(table.splitlines()) == 2 + 16 + 1


def scaled(backward, position, factor):
    """A backward that returns output `position` (or its first part, for a pair) scaled."""

    def broken(d_state, cache):
        grads = list(backward(d_state, cache))
        part = grads[position]
        grads[position] = (part[0], part[1] * factor) if isinstance(part, tuple) else part * factor
        return tuple(grads)

    return broken


@pytest.mark.parametrize(
    ("module", "name", "kind", "position", "suspect"),
    [
        (rnn_module, "rnn_cell_backward", "rnn_tanh", 3, "weight_hh_l0"),  # dW_hh
        (lstm_module, "lstm_cell_backward", "lstm", 1, None),  # dc_prev: the cell's own path
        (gru_module, "gru_cell_backward", "gru", 5, "bias_hh_l0"),  # db_hh
    ],
)
def test_a_wrong_backward_is_caught(monkeypatch, module, name, kind, position, suspect):
    monkeypatch.setattr(module, name, scaled(getattr(module, name), position, 1.01))
    row = gradcheck.check(kind, num_layers=1, bidirectional=False)
    assert not row.passed
    assert row.error_vs_finite_diff > 1e-4 and row.error_vs_torch > 1e-4
    if suspect:
        assert row.worst_vs_torch == suspect
    assert "FAIL" in gradcheck.format_table([row])


def test_relative_error_and_numerical_gradient():
    a = np.array([3.0, 4.0])
    assert gradcheck.relative_error(a, a) == 0.0
    assert gradcheck.relative_error(a, a * 1.1) == pytest.approx(0.1 / 1.1)
    # Both near zero: the 1e-12 floor turns the error into an absolute one.
    tiny = np.full(2, 1e-14)
    assert gradcheck.relative_error(np.zeros(2), tiny) == pytest.approx(np.sqrt(2) * 1e-14 / 1e-12)
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    grad = gradcheck.numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[0.5, -1.0], [2.0, 0.1]])  # restored


def test_invalid_settings():
    with pytest.raises(ValueError, match="kind must be one of"):
        gradcheck.check("transformer")
    with pytest.raises(ValueError, match="tolerance must be a positive number, got -1"):
        gradcheck.run_all(tolerance=-1)
