"""Recurrent: shapes, variable lengths, merge modes, initialisation and input checks."""

import itertools

import pytest
import torch

from rnnkit.layers import KINDS, Recurrent, detach_state, reset_state
from rnnkit.reference import forward, params_from_torch

N, T, I, H = 3, 7, 4, 5

CONFIGS = list(itertools.product(KINDS, (1, 2), (False, True)))


def make(kind, layers=1, bidirectional=False, **kw):
    torch.manual_seed(0)
    return Recurrent(kind, I, H, num_layers=layers, bidirectional=bidirectional, **kw).double()


def states(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize(("kind", "layers", "bidirectional"), CONFIGS)
def test_shapes_and_state_layout(kind, layers, bidirectional):
    layer = make(kind, layers, bidirectional)
    out, state = layer(torch.randn(N, T, I, dtype=torch.float64))
    D = 2 if bidirectional else 1
    assert out.shape == (N, T, D * H) and layer.output_size == D * H
    assert all(s.shape == (layers * D, N, H) for s in states(state))
    assert isinstance(state, tuple) == (kind == "lstm")


def test_time_first_layout():
    layer = make("gru", batch_first=False)
    out, state = layer(torch.randn(T, N, I, dtype=torch.float64))
    assert out.shape == (T, N, H) and state.shape == (1, N, H)


@pytest.mark.parametrize(("kind", "layers", "bidirectional"), CONFIGS)
def test_variable_lengths_equal_each_sequence_alone(kind, layers, bidirectional):
    layer = make(kind, layers, bidirectional)
    x = torch.randn(N, T, I, dtype=torch.float64)
    lengths = torch.tensor([4, T, 2])  # unsorted on purpose
    out, state = layer(x, lengths=lengths)
    for n, length in enumerate(lengths.tolist()):
        alone_out, alone_state = layer(x[n : n + 1, :length])
        torch.testing.assert_close(out[n, :length], alone_out[0], rtol=0, atol=1e-12)
        assert torch.all(out[n, length:] == 0), "padded steps must give zeros"
        for s, a in zip(states(state), states(alone_state), strict=True):
            torch.testing.assert_close(s[:, n], a[:, 0], rtol=0, atol=1e-12)


def test_padding_values_do_not_leak():
    layer = make("lstm", 2, True)
    x = torch.randn(N, T, I, dtype=torch.float64)
    lengths = torch.tensor([T, 3, 5])
    noisy = x.clone()
    noisy[1, 3:] = 1e3
    noisy[2, 5:] = float("nan")
    out, _ = layer(x, lengths=lengths)
    noisy_out, _ = layer(noisy, lengths=lengths)
    torch.testing.assert_close(out, noisy_out, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("merge", "combine"),
    [
        ("sum", lambda f, b: f + b),
        ("mean", lambda f, b: (f + b) / 2),
        ("mul", lambda f, b: f * b),
    ],
)
def test_merge_modes(merge, combine):
    concat = make("gru", 2, True)
    merged = make("gru", 2, True, merge=merge)
    merged.load_state_dict(concat.state_dict())
    x = torch.randn(N, T, I, dtype=torch.float64)
    full, _ = concat(x)
    out, _ = merged(x)
    assert out.shape == (N, T, H) and merged.output_size == H
    torch.testing.assert_close(out, combine(full[..., :H], full[..., H:]))


def test_state_carried_across_chunks_equals_one_pass():
    layer = make("lstm", 2)
    x = torch.randn(N, T, I, dtype=torch.float64)
    whole, whole_state = layer(x)
    first, state = layer(x[:, :3])
    carried = detach_state(state)
    assert not any(s.requires_grad for s in carried)
    second, state = layer(x[:, 3:], carried)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    for a, b in zip(state, whole_state, strict=True):
        torch.testing.assert_close(a, b)


def test_initialisation_orthogonal_blocks_and_forget_bias():
    layer = Recurrent("lstm", I, H, num_layers=2)
    for name, param in layer.rnn.named_parameters():
        blocks = param.detach().split(H, dim=0)
        if name.startswith("weight_hh"):
            for block in blocks:
                torch.testing.assert_close(block @ block.T, torch.eye(H), atol=1e-5, rtol=0)
        if name.startswith("bias_ih"):
            assert torch.all(blocks[1] == 1.0) and all(torch.all(b == 0) for b in blocks[::2])
        if name.startswith("bias_hh"):
            assert torch.all(param == 0)


def test_gradients_reach_every_parameter():
    layer = make("gru", 2, True)
    out, state = layer(torch.randn(N, T, I, dtype=torch.float64), lengths=torch.tensor([7, 2, 5]))
    (out.sum() + state.sum()).backward()
    for name, param in layer.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_reset_state_zeroes_only_masked_sequences():
    h = torch.ones(2, N, H)
    c = torch.full((2, N, H), 2.0)
    mask = torch.tensor([False, True, False])
    new_h, new_c = reset_state((h, c), mask)
    assert torch.all(new_h[:, 1] == 0) and torch.all(new_c[:, 1] == 0)
    assert torch.all(new_h[:, [0, 2]] == 1) and torch.all(new_c[:, [0, 2]] == 2)
    assert reset_state(None, mask) is None and detach_state(None) is None


def test_initial_state_matches_layout():
    layer = make("lstm", 2, True)
    h, c = layer.initial_state(N)
    assert h.shape == c.shape == (4, N, H) and h.dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "lstmm"}, "kind must be one of rnn_tanh, rnn_relu, lstm, gru, got 'lstmm'"),
        ({"hidden_size": -3}, "hidden_size must be a positive int, got -3"),
        ({"input_size": 2.5}, "input_size must be a positive int, got 2.5"),
        ({"num_layers": 0}, "num_layers must be a positive int, got 0"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
        ({"merge": "avg"}, "merge must be one of concat, sum, mean, mul, got 'avg'"),
    ],
)
def test_constructor_errors_say_what_was_expected(kwargs, message):
    args = {"kind": "gru", "input_size": I, "hidden_size": H} | kwargs
    with pytest.raises(ValueError, match=message):
        Recurrent(**args)


def test_meaningless_combinations_warn():
    with pytest.warns(UserWarning, match="does nothing with num_layers=1"):
        Recurrent("lstm", I, H, dropout=0.2)
    with pytest.warns(UserWarning, match="no effect without bidirectional"):
        Recurrent("lstm", I, H, merge="sum")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m(torch.randn(N, T)), r"x must have shape \(N, T, I\) with I=4, got \(3, 7\)"),
        (lambda m: m(torch.randn(N, T, 6)), r"with I=4, got \(3, 7, 6\)"),
        (lambda m: m(torch.randn(N, T, I, dtype=torch.float64)), "dtype torch.float64"),
        (lambda m: m(torch.randn(N, T, I), torch.zeros(1, N, H)), "must be a tuple"),
        (
            lambda m: m(torch.randn(N, T, I), (torch.zeros(2, N, H), torch.zeros(2, N, H))),
            r"\(L\*D, N, H\) = \(1, 3, 5\), got \(2, 3, 5\)",
        ),
        (
            lambda m: m(torch.randn(N, T, I), lengths=torch.tensor([1, 9, 2])),
            r"lengths must lie in \[1, T=7\], got values from 1 to 9",
        ),
        (
            lambda m: m(torch.randn(N, T, I), lengths=torch.tensor([1, 2])),
            "1-D integer tensor of N=3 lengths",
        ),
        (
            lambda m: m(torch.randn(N, T, I), lengths=torch.tensor([1.0, 2.0, 3.0])),
            "1-D integer tensor",
        ),
    ],
)
def test_call_errors_say_what_was_expected(call, message):
    layer = Recurrent("lstm", I, H)
    with pytest.raises(ValueError, match=message):
        call(layer)


@pytest.mark.parametrize(("kind", "layers", "bidirectional"), CONFIGS)
def test_equals_the_numpy_reference_over_two_chunks_with_state_carried(kind, layers, bidirectional):

    layer = make(kind, layers, bidirectional)
    params = params_from_torch(layer)
    x = torch.randn(N, T, I, dtype=torch.float64)
    state, ref_state = None, None
    for chunk in (x[:, :4], x[:, 4:]):
        out, state = layer(chunk, state)
        ref_out, ref_state, _ = forward(kind, params, chunk.numpy(), ref_state)
        torch.testing.assert_close(out, torch.from_numpy(ref_out), rtol=0, atol=1e-8)
        for ours, ref in zip(states(state), states(ref_state), strict=True):
            torch.testing.assert_close(ours, torch.from_numpy(ref), rtol=0, atol=1e-8)


@pytest.mark.parametrize(("kind", "layers"), list(itertools.product(KINDS, (1, 2))))
def test_step_cells_step_by_step_equal_the_layer(kind, layers):
    """T single steps through `step_cells()`, the state carried, equal one pass of the layer,
    in float32 (the dtype serving runs in) from a random start state."""
    torch.manual_seed(1)
    layer = Recurrent(kind, I, H, num_layers=layers, dropout=0.3 if layers > 1 else 0.0).eval()
    with torch.no_grad():  # biases away from zero, so that a wrong bias shows
        for name, param in layer.named_parameters():
            if "bias" in name:
                param.normal_()
    x = torch.randn(N, T, I)
    start = tuple(torch.randn(layers, N, H) for _ in range(2 if kind == "lstm" else 1))
    start = start if kind == "lstm" else start[0]
    cells = layer.step_cells()
    assert cells.num_layers == layers and cells.kind == kind
    with torch.no_grad():
        want, want_state = layer(x, start)
        state, outs = start, []
        for t in range(T):
            out, state = cells(x[:, t], state)
            outs.append(out)
    torch.testing.assert_close(torch.stack(outs, 1), want, atol=1e-5, rtol=0)
    for got, expected in zip(states(state), states(want_state), strict=True):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_step_cells_copy_the_weights_and_refuse_two_directions():
    layer = Recurrent("lstm", I, H)
    cells = layer.step_cells()
    with torch.no_grad():
        layer.rnn.weight_ih_l0.zero_()
    assert cells.ih[0].weight.abs().sum() > 0  # a copy: training on does not change it
    with pytest.raises(ValueError, match="unidirectional"):
        Recurrent("gru", I, H, bidirectional=True).step_cells()
