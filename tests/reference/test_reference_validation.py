"""Public inputs are checked, with messages that say what was expected and what was found."""

import numpy as np
import pytest
from reference_fixtures import problem

from rnnkit.reference import backward, forward, init_params, param_shapes, truncated_bptt
from rnnkit.reference.tbptt import sequence_loss


def test_unknown_kind_lists_the_valid_kinds():
    params, x, _ = problem("gru", 1, False)
    with pytest.raises(ValueError, match="rnn_tanh, rnn_relu, lstm, gru, got 'elman'"):
        forward("elman", params, x)
    with pytest.raises(ValueError, match="kind must be one of"):
        init_params("LSTM", 4, 5)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((3, 4)), r"x must have shape \(N, T, 4\) .*got \(3, 4\)"),
        (np.zeros((3, 6, 7)), r"x must have shape \(N, T, 4\) .*got \(3, 6, 7\)"),
        (np.zeros((3, 0, 4)), r"got \(3, 0, 4\)"),
    ],
)
def test_bad_input_shapes(x, message):
    params, _, _ = problem("rnn_tanh", 1, False)
    with pytest.raises(ValueError, match=message):
        forward("rnn_tanh", params, x)


def test_bad_states():
    params, x, (h, c) = problem("lstm", 2, True)
    with pytest.raises(ValueError, match=r"must be a pair \(h, c\)"):
        forward("lstm", params, x, h)
    with pytest.raises(
        ValueError, match=r"state\[1\] must have shape \(4, 3, 5\) .*got \(2, 3, 5\)"
    ):
        forward("lstm", params, x, (h, c[:2]))


def test_params_that_do_not_fit_the_kind_or_layout():
    params, x, _ = problem("gru", 2, False)
    with pytest.raises(ValueError, match=r"weight_ih_l0 has shape \(15, 4\), expected \(5, 4\)"):
        forward("rnn_tanh", params, x)
    del params["bias_hh_l1"]
    with pytest.raises(ValueError, match="missing bias_hh_l1"):
        forward("gru", params, x)
    params["bias_hh_l1"], params["extra"] = np.zeros(15), np.zeros(3)
    with pytest.raises(ValueError, match="unexpected extra"):
        forward("gru", params, x)
    with pytest.raises(ValueError, match="needs a 2-d 'weight_ih_l0'"):
        forward("gru", {"rnn.weight_ih_l0": params["weight_ih_l0"]}, x)


def test_bad_backward_gradients():
    params, x, _ = problem("gru", 1, True)
    _, _, cache = forward("gru", params, x)
    with pytest.raises(ValueError, match=r"d_out must have shape \(3, 6, 10\)"):
        backward(cache, np.zeros((3, 6, 5)))
    with pytest.raises(ValueError, match=r"d_final_state must have shape \(2, 3, 5\)"):
        backward(cache, np.zeros((3, 6, 10)), np.zeros((1, 3, 5)))


@pytest.mark.parametrize("k", [0, -2, 2.5, True])
def test_chunk_length_must_be_a_positive_int(k):
    params, x, _ = problem("rnn_relu", 1, False)
    loss_fn = sequence_loss(np.zeros((3, 6, 5)))
    with pytest.raises(ValueError, match=f"k must be a positive int, got {k!r}"):
        truncated_bptt("rnn_relu", params, x, k, loss_fn)


def test_sizes_must_be_positive_ints():
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got -3"):
        param_shapes("lstm", 4, -3)
    with pytest.raises(ValueError, match="num_layers must be a positive int, got 0"):
        init_params("lstm", 4, 3, num_layers=0)
