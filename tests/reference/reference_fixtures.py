"""Shared set-up for the reference tests: random problems and the same network in torch."""

import itertools

import numpy as np
import torch

from rnnkit.reference import init_params, make_torch_module, params_to_torch, state_to_torch

KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")
# Every kind x layers (1, 2) x bidirectional (False, True), with readable test ids.
CONFIGS = list(itertools.product(KINDS, (1, 2), (False, True)))
CONFIG_IDS = [f"{k}-L{layers}-D{2 if bi else 1}" for k, layers, bi in CONFIGS]

N, T, I, H = 3, 6, 4, 5  # batch, time, input features, hidden units


def random_state(kind, rows, rng, batch=N, hidden=H):
    """A random (L*D, N, H) state, or a pair of them for the LSTM."""
    h = rng.standard_normal((rows, batch, hidden))
    return (h, rng.standard_normal(h.shape)) if kind == "lstm" else h


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def problem(kind, layers, bidirectional, seed=0, steps=T):
    """(params, x (N, T, I), initial state) drawn from a seeded generator."""
    rng = np.random.default_rng(seed)
    params = init_params(kind, I, H, layers, bidirectional, rng)
    x = rng.standard_normal((N, steps, I))
    D = 2 if bidirectional else 1
    return params, x, random_state(kind, layers * D, rng)


def torch_twin(kind, params, layers, bidirectional):
    """A float64, batch-first torch module holding `params`."""
    module = make_torch_module(kind, I, H, layers, bidirectional)
    return params_to_torch(params, module)


def torch_run(module, x, state, requires_grad=False):
    """Run `module` on numpy inputs; returns (out, final state, x tensor, state tensors)."""
    x_t = state_to_torch(x, requires_grad)
    state_t = state_to_torch(state, requires_grad)
    out, final = module(x_t, state_t)
    return out, final, x_t, state_t


def to_numpy(tensor):
    return tensor.detach().numpy()


def torch_grads(module):
    return {name: p.grad.numpy().copy() for name, p in module.named_parameters()}


def assert_close(ours, theirs, tol, what=""):
    """Entrywise |ours - theirs| <= tol * (1 + |theirs|): relative for big entries."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol, err_msg=what)


def as_torch(array):
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def torch_cell(kind, W_ih, W_hh, b_ih, b_hh):
    """nn.RNNCell / nn.LSTMCell / nn.GRUCell (float64) holding the given weights."""
    hidden, features = W_hh.shape[1], W_ih.shape[1]
    if kind == "lstm":
        cell = torch.nn.LSTMCell(features, hidden, dtype=torch.float64)
    elif kind == "gru":
        cell = torch.nn.GRUCell(features, hidden, dtype=torch.float64)
    else:
        nonlinearity = kind.removeprefix("rnn_")
        cell = torch.nn.RNNCell(features, hidden, nonlinearity=nonlinearity, dtype=torch.float64)
    with torch.no_grad():
        for name, value in zip(
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh"), (W_ih, W_hh, b_ih, b_hh), strict=True
        ):
            getattr(cell, name).copy_(as_torch(value))
    return cell
