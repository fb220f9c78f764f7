"""Attention pooling against a by-hand reference, and the classifier's optional hidden head."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.models import SequenceClassifier, SequenceRegressor, pool
from rnnkit.models.classifier import POOLINGS, AttentionPool

N, T, V, C, H = 3, 7, 9, 4, 5
LENGTHS = torch.tensor([4, T, 2])  # unsorted on purpose


def test_attention_pool_matches_the_formula_by_hand():
    """u_t = tanh(W h_t + b), s_t = v . u_t, softmax over the valid steps, weighted sum."""
    torch.manual_seed(0)
    attend = AttentionPool(features=3, attention_size=4).double()
    out = torch.randn(N, T, 3, dtype=torch.float64)
    pooled, weights = attend(out, LENGTHS)
    W, b = attend.proj.weight.detach().numpy(), attend.proj.bias.detach().numpy()
    v = attend.v.weight.detach().numpy()[0]
    h = out.numpy()
    for n, length in enumerate(LENGTHS.tolist()):
        scores = np.array([v @ np.tanh(W @ h[n, t] + b) for t in range(length)])
        expected = np.exp(scores - scores.max())
        expected /= expected.sum()
        np.testing.assert_allclose(weights[n, :length].detach().numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(pooled[n].detach().numpy(), expected @ h[n, :length])
    assert (weights[0, 4:] == 0).all() and (weights[2, 2:] == 0).all()  # exactly zero
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(N, dtype=torch.float64))
    # through `pool`, and with no lengths every step counts
    torch.testing.assert_close(pool(out, LENGTHS, "attention", 1, attend), pooled)
    _, full = attend(out)
    assert (full > 0).all()
    torch.testing.assert_close(full.sum(dim=1), torch.ones(N, dtype=torch.float64))


@pytest.mark.parametrize(
    ("bidirectional", "kind", "head_size"),
    list(itertools.product((False, True), ("lstm", "gru"), (None, 6))),
)
def test_padding_never_changes_the_logits(bidirectional, kind, head_size):
    torch.manual_seed(0)
    model = SequenceClassifier(
        C,
        vocab_size=V,
        hidden_size=H,
        kind=kind,
        bidirectional=bidirectional,
        pooling="attention",
        head_size=head_size,
    )
    model = model.double().eval()
    x = torch.randint(0, V, (N, T))  # ids past each length are garbage that must not leak
    logits, _ = model(x, lengths=LENGTHS)
    wider = torch.cat([x, torch.randint(0, V, (N, 5))], dim=1)  # more padding, other garbage
    torch.testing.assert_close(model(wider, lengths=LENGTHS)[0], logits, rtol=0, atol=1e-12)
    weights = model.attention_weights(x, LENGTHS)
    assert weights.shape == (N, T)
    for n, length in enumerate(LENGTHS.tolist()):
        alone, _ = model(x[n : n + 1, :length])
        torch.testing.assert_close(logits[n : n + 1], alone, rtol=0, atol=1e-12)
        assert (weights[n, length:] == 0).all()
        torch.testing.assert_close(
            weights[n, :length], model.attention_weights(x[n : n + 1, :length])[0]
        )


def test_gradients_reach_the_attention_parameters():
    torch.manual_seed(0)
    model = SequenceClassifier(C, input_size=3, hidden_size=H, pooling="attention")
    _, loss = model(torch.randn(N, T, 3), torch.randint(0, C, (N,)), lengths=LENGTHS)
    loss.backward()
    for name, param in model.attention_pool.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def marked_position_task(n: int, steps: int, generator: torch.Generator):
    """Steps of (a random +-1 value, a marker); one step is marked; the label is whether the
    marked value is positive. Returns inputs (n, steps, 2), labels (n,), marked steps (n,)."""
    values = torch.randint(0, 2, (n, steps), generator=generator).float() * 2 - 1
    marked = torch.randint(0, steps, (n,), generator=generator)
    marker = torch.zeros(n, steps)
    marker[torch.arange(n), marked] = 1.0
    labels = (values[torch.arange(n), marked] > 0).long()
    return torch.stack([values, marker], dim=-1), labels, marked


def test_attention_pooling_learns_to_look_at_the_marked_step():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    steps = 40
    x, y, _ = marked_position_task(256, steps, generator)
    test_x, test_y, test_marked = marked_position_task(256, steps, generator)
    model = SequenceClassifier(2, input_size=2, hidden_size=8, kind="gru", pooling="attention")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(40):
        optimizer.zero_grad()
        model(x, y)[1].backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(test_x)[0].argmax(-1) == test_y).float().mean().item()
        weights = model.attention_weights(test_x)
    assert accuracy >= 0.9  # chance is 0.5
    on_mark = weights[torch.arange(256), test_marked].mean().item()
    assert on_mark > 10 / steps  # ten times the uniform weight 1/T


@pytest.mark.parametrize("bidirectional", [False, True])
def test_head_size_adds_a_hidden_layer(bidirectional):
    D = 2 if bidirectional else 1
    model = SequenceClassifier(
        C, input_size=3, hidden_size=H, bidirectional=bidirectional, head_size=6, head_dropout=0.2
    )
    linear_in, relu, drop, linear_out = model.head
    assert (linear_in.in_features, linear_in.out_features) == (D * H, 6)
    assert isinstance(relu, nn.ReLU) and drop.p == 0.2
    assert (linear_out.in_features, linear_out.out_features) == (6, C)
    logits, _ = model(torch.randn(N, T, 3), lengths=LENGTHS)
    assert logits.shape == (N, C)


def test_defaults_keep_the_single_linear_head_and_its_weight_names():
    """Runs saved before these options existed must still load: same modules, same keys."""
    model = SequenceClassifier(C, input_size=3, hidden_size=H)
    assert isinstance(model.head, nn.Linear)
    assert not hasattr(model, "attention_pool")
    assert {k for k in model.state_dict() if not k.startswith("encoder.")} == {
        "head.weight",
        "head.bias",
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"head_size": 0}, "head_size must be a positive int, got 0"),
        ({"head_size": -3}, "head_size must be a positive int"),
        ({"head_size": 2.5}, "head_size must be a positive int"),
        ({"head_size": True}, "head_size must be a positive int"),
        ({"head_size": 4, "head_dropout": 1.0}, r"head_dropout must be in \[0, 1\)"),
        ({"head_size": 4, "head_dropout": -0.1}, r"head_dropout must be in \[0, 1\)"),
        ({"pooling": "sum"}, "pooling must be one of last, mean, max, attention"),
        ({"pooling": "attention", "attention_size": 0}, "attention_size must be a positive"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(C, input_size=3, hidden_size=H, **options)


def test_meaningless_combinations_warn_and_misuse_raises():
    with pytest.warns(UserWarning, match="head_dropout has no effect without head_size"):
        SequenceClassifier(C, input_size=3, hidden_size=H, head_dropout=0.2)
    with pytest.warns(UserWarning, match="attention_size has no effect"):
        SequenceClassifier(C, input_size=3, hidden_size=H, attention_size=4)
    model = SequenceClassifier(C, input_size=3, hidden_size=H, pooling="mean")
    with pytest.raises(ValueError, match='needs a model built with pooling="attention"'):
        model.attention_weights(torch.randn(N, T, 3))
    with pytest.raises(ValueError, match="needs attention=AttentionPool"):
        pool(torch.randn(N, T, H), None, "attention", 1)
    assert "attention" in POOLINGS


def test_regressor_with_attention_and_a_hidden_head():
    torch.manual_seed(0)
    model = SequenceRegressor(
        2, input_size=3, hidden_size=H, pooling="attention", head_size=6, head_dropout=0.1
    )
    x, targets = torch.randn(N, T, 3), torch.randn(N, 2)
    prediction, loss = model(x, targets, lengths=LENGTHS)
    assert prediction.shape == (N, 2)
    torch.testing.assert_close(loss, ((prediction - targets) ** 2).mean())
    loss.backward()
    assert model.attention_pool.v.weight.grad is not None
    plain, _ = SequenceRegressor(input_size=3, hidden_size=H)(x, lengths=LENGTHS)
    assert plain.shape == (N, 1)
