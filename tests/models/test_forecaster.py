"""The forecaster: shapes, the three losses by hand, the recursive roll-out, and learning."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.data.windows import windows
from rnnkit.models.forecaster import DistributionHead, Forecaster

N, L, H, V, C = 5, 12, 4, 2, 3
CASES = [
    (strategy, head)
    for strategy in ("direct", "recursive", "seq2seq")
    for head in ("point", "gaussian", "quantile")
    if not (strategy == "recursive" and head == "quantile")
]


def batch(seed=0, covariates=C):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(N, L, V + covariates, generator=g)
    future = torch.randn(N, H, covariates, generator=g)
    targets = torch.randn(N, H, V, generator=g)
    return inputs, future, targets


@pytest.mark.parametrize(("strategy", "head"), CASES)
def test_shapes_losses_and_ordered_quantiles(strategy, head):
    torch.manual_seed(0)
    model = Forecaster(V + C, H, num_values=V, strategy=strategy, head=head, hidden_size=8)
    inputs, future, targets = batch()
    raw, loss = model(inputs, future, targets)
    assert raw.shape == (N, H, model.head.size)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    levels = (0.5,) if head == "point" else (0.05, 0.5, 0.95)
    q = model.predict(inputs, future, levels, torch.Generator().manual_seed(0))
    assert q.shape == (N, H, len(levels))
    assert (q.diff(dim=-1) >= 0).all()


@pytest.mark.parametrize("strategy", ["direct", "recursive", "seq2seq"])
def test_a_lookback_reads_only_the_last_input_steps(strategy):
    torch.manual_seed(0)
    model = Forecaster(V + C, H, num_values=V, strategy=strategy, hidden_size=8, lookback=5)
    inputs, future, targets = batch()
    earlier = inputs.clone()
    earlier[:, : L - 5] += 10.0  # what it does not read
    later = inputs.clone()
    later[:, -1] += 1.0  # what it does
    generator = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    q = model.predict(inputs, future, (0.05, 0.5, 0.95), generator())
    assert torch.equal(model.predict(earlier, future, (0.05, 0.5, 0.95), generator()), q)
    assert not torch.equal(model.predict(later, future, (0.05, 0.5, 0.95), generator()), q)
    assert torch.equal(model(earlier, future, targets)[1], model(inputs, future, targets)[1])
    with pytest.raises(ValueError, match="lookback"):
        Forecaster(V + C, H, lookback=0)


def test_gaussian_loss_is_the_negative_log_likelihood():
    raw, y = torch.randn(6, 3, 2), torch.randn(6, 3)
    head = DistributionHead("gaussian", ())
    mu, sigma = raw[..., 0], F.softplus(raw[..., 1]) + 1e-3
    expected = F.gaussian_nll_loss(mu, y, sigma**2, full=True, eps=0.0)
    assert head.loss(raw, y).item() == pytest.approx(expected.item(), rel=1e-6)


def test_pinball_loss_by_hand():
    head = DistributionHead("quantile", (0.1, 0.5, 0.9))
    raw = torch.tensor([[[0.0, 1.0, 2.0]]])
    y = torch.tensor([[1.5]])
    # errors y - q: 1.5, 0.5, -0.5 -> 0.1*1.5, 0.5*0.5, (0.9-1)*(-0.5)
    expected = (0.15 + 0.25 + 0.05) / 3
    assert head.loss(raw, y).item() == pytest.approx(expected)


def test_gaussian_quantiles_use_the_normal_quantile_function():
    head = DistributionHead("gaussian", ())
    raw = torch.tensor([[[2.0, math.log(math.e - 1)]]])  # softplus -> 1, sigma = 1 + 1e-3
    q = head.quantiles(raw, (0.05, 0.5, 0.95))[0, 0]
    sigma = 1 + 1e-3
    assert q.tolist() == pytest.approx([2 - 1.6448536 * sigma, 2.0, 2 + 1.6448536 * sigma])


def test_recursive_rollout_is_the_teacher_forced_model_fed_its_own_forecasts():
    # Feeding the point forecasts back as targets must reproduce them step by step: the
    # training-time and use-time computations are the same network.
    torch.manual_seed(0)
    model = Forecaster(1 + C, H, num_values=1, strategy="recursive", head="point").eval()
    inputs, future, _ = batch(covariates=C)
    inputs = inputs[..., : 1 + C]
    rolled = model.predict(inputs, future)  # (N, H, 1)
    raw, _ = model(inputs, future, targets=rolled)
    torch.testing.assert_close(raw, rolled, atol=1e-5, rtol=1e-5)


def test_a_point_forecast_has_no_intervals_and_bad_settings_are_refused():
    for strategy in ("direct", "recursive"):
        model = Forecaster(1, H, strategy=strategy, head="point")
        with pytest.raises(ValueError, match="no intervals"):
            model.predict(torch.randn(2, L, 1), None, (0.05, 0.5, 0.95))
    with pytest.raises(ValueError, match="recursive"):
        Forecaster(2, H, strategy="recursive", head="quantile")
    with pytest.raises(ValueError, match="include 0.5"):
        Forecaster(2, H, head="quantile", quantiles=(0.1, 0.9))
    with pytest.raises(ValueError, match="num_values"):
        Forecaster(2, H, num_values=3)
    with pytest.raises(ValueError, match="strategy"):
        Forecaster(2, H, strategy="sideways")
    with pytest.raises(ValueError, match="horizon"):
        Forecaster(2, 0)


def test_future_covariates_must_match_the_horizon():
    model = Forecaster(1 + C, H)
    inputs = torch.randn(2, L, 1 + C)
    with pytest.raises(ValueError, match="future"):
        model(inputs, None)
    with pytest.raises(ValueError, match="future"):
        model(inputs, torch.randn(2, H + 1, C))


def sine_windows(seed=0, T=600, period=12):
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    z = (np.sin(2 * np.pi * t / period) + 0.05 * rng.standard_normal(T))[:, None]
    origins = np.arange(24, T - 6)
    return windows(z, np.zeros((T, 0)), origins, 24, 6, relative=False)[0]


@pytest.mark.parametrize("strategy", ["direct", "recursive", "seq2seq"])
def test_each_strategy_learns_a_sine_far_better_than_repeating_the_last_value(strategy):
    torch.manual_seed(0)
    data = sine_windows()
    model = Forecaster(1, 6, strategy=strategy, head="gaussian", hidden_size=24)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(250):
        rows = torch.randint(0, len(data["inputs"]), (32,), generator=g)
        _, loss = model(**{k: v[rows] for k, v in data.items()})
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    median = model.predict(data["inputs"], data["future"], (0.5,), g)[..., 0]
    mse = ((median - data["targets"][..., 0]) ** 2).mean()
    naive = ((data["inputs"][:, -1:, 0] - data["targets"][..., 0]) ** 2).mean()
    assert mse < 0.1 * naive
