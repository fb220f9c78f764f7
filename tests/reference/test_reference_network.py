"""The reference network against torch: forward, BPTT gradients, finite differences, chunks."""

import numpy as np
import pytest
import torch
from reference_fixtures import (
    CONFIG_IDS,
    CONFIGS,
    KINDS,
    as_torch,
    as_tuple,
    assert_close,
    problem,
    random_state,
    to_numpy,
    torch_cell,
    torch_grads,
    torch_run,
    torch_twin,
)

from rnnkit.reference import backward, forward, gradcheck, param_names


@pytest.mark.parametrize(("kind", "layers", "bidirectional"), CONFIGS, ids=CONFIG_IDS)
def test_forward_and_gradients_match_torch(kind, layers, bidirectional):
    params, x, state = problem(kind, layers, bidirectional)
    module = torch_twin(kind, params, layers, bidirectional)
    out_t, final_t, x_t, state_t = torch_run(module, x, state, requires_grad=True)

    out, final, cache = forward(kind, params, x, state)
    assert_close(out, to_numpy(out_t), 1e-10, "out")
    for ours, theirs in zip(as_tuple(final), as_tuple(final_t), strict=True):
        assert_close(ours, to_numpy(theirs), 1e-10, "final state")

    # A loss that weighs every output and every entry of the final state differently.
    rng = np.random.default_rng(1)
    d_out = rng.standard_normal(out.shape)
    d_final = tuple(rng.standard_normal(s.shape) for s in as_tuple(final))
    loss = (out_t * as_torch(d_out)).sum()
    for s, g in zip(as_tuple(final_t), d_final, strict=True):
        loss = loss + (s * as_torch(g)).sum()
    loss.backward()

    result = backward(cache, d_out, d_final if kind == "lstm" else d_final[0])
    expected = torch_grads(module)
    assert list(result.grads) == list(expected)  # same names, same (torch's) order
    for name, grad in expected.items():
        assert_close(result.grads[name], grad, 1e-8, name)
    assert_close(result.dx, x_t.grad.numpy(), 1e-8, "dx")
    for ours, theirs in zip(as_tuple(result.d_state), as_tuple(state_t), strict=True):
        assert_close(ours, theirs.grad.numpy(), 1e-8, "d_state")


@pytest.mark.parametrize(
    ("kind", "layers", "bidirectional"),
    [("rnn_relu", 1, True), ("lstm", 2, True), ("gru", 2, False)],
)
def test_gradients_match_finite_differences(kind, layers, bidirectional):
    params, x, state = problem(kind, layers, bidirectional, steps=3)
    d_out = np.random.default_rng(2).standard_normal((x.shape[0], 3, (1 + bidirectional) * 5))

    def loss():  # reads params and x, which numerical_gradient perturbs in place
        out, _, _ = forward(kind, params, x, state)
        return float(np.sum(out * d_out))

    _, _, cache = forward(kind, params, x, state)
    result = backward(cache, d_out)
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_hh_l0", f"weight_hh_l{layers - 1}"):
        numerical = gradcheck.numerical_gradient(loss, params[name])
        assert gradcheck.relative_error(result.grads[name], numerical) < 1e-7, name
    assert gradcheck.relative_error(result.dx, gradcheck.numerical_gradient(loss, x)) < 1e-7


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_two_chunks_with_the_state_carried_equal_one_torch_run(kind, layers):
    params, x, state = problem(kind, layers, False)
    out_t, final_t, _, _ = torch_run(torch_twin(kind, params, layers, False), x, state)

    first, carried, _ = forward(kind, params, x[:, :2], state)
    second, final, _ = forward(kind, params, x[:, 2:], carried)
    assert_close(np.concatenate([first, second], axis=1), to_numpy(out_t), 1e-10, "out")
    for ours, theirs in zip(as_tuple(final), as_tuple(final_t), strict=True):
        assert_close(ours, to_numpy(theirs), 1e-10, "final state")


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", KINDS)
def test_hidden_state_gradients_match_torch_cells_step_by_step(kind, layers):
    """dh[l, 0, t] is the total dLoss/dh_t: compare with torch cells, one step at a time."""
    params, x, state = problem(kind, layers, False)
    d_out = np.random.default_rng(3).standard_normal((x.shape[0], x.shape[1], 5))
    cells = [torch_cell(kind, *(params[n] for n in param_names(l, 0))) for l in range(layers)]
    states = [tuple(as_torch(s[l]) for s in as_tuple(state)) for l in range(layers)]
    loss, seen = 0.0, []  # seen[t][l]: h of layer l after step t
    for t in range(x.shape[1]):
        layer_in, seen_t = as_torch(x[:, t]), []
        for l, cell in enumerate(cells):
            s = cell(layer_in, states[l] if kind == "lstm" else states[l][0])
            states[l] = as_tuple(s)
            layer_in = states[l][0]
            layer_in.retain_grad()
            seen_t.append(layer_in)
        seen.append(seen_t)
        loss = loss + (layer_in * as_torch(d_out[:, t])).sum()
    loss.backward()

    _, _, cache = forward(kind, params, x, state)
    result = backward(cache, d_out)
    expected = np.array([[h.grad.numpy() for h in seen_t] for seen_t in seen])  # (T, L, N, H)
    expected = expected.transpose(1, 0, 2, 3)  # (L, T, N, H)
    assert result.dh.shape == (layers, 1, x.shape[1], x.shape[0], 5)
    assert_close(result.dh[:, 0], expected, 1e-8, "dh")
    norms = result.hidden_grad_norms()
    assert norms.shape == (layers, 1, x.shape[1])
    assert_close(norms[:, 0], np.linalg.norm(expected, axis=(2, 3)), 1e-8, "norms")


def test_zero_initial_state_is_the_default():
    params, x, _ = problem("lstm", 2, True)
    zeros = random_state("lstm", 4, np.random.default_rng(0))
    zeros = tuple(np.zeros_like(s) for s in zeros)
    out_default, _, _ = forward("lstm", params, x)
    out_zeros, _, _ = forward("lstm", params, x, zeros)
    np.testing.assert_array_equal(out_default, out_zeros)


def test_torch_module_is_float64():
    params, _, _ = problem("gru", 1, False)
    assert torch_twin("gru", params, 1, False).weight_hh_l0.dtype == torch.float64
