"""Many-to-many forecasting: a window of the past in, a distribution over the next steps out.

Three multi-step strategies over one recurrent encoder:

- ``"direct"``: the encoder's last state (and the covariates of the H future steps) go
  through one linear layer to all H steps at once.
- ``"recursive"``: a one-step model of every value column, rolled forward H times, each
  prediction fed back as the next input. Trained with teacher forcing over the H steps;
  its Gaussian intervals come from sampled paths, so errors compound as they do in use.
- ``"seq2seq"``: an encoder-decoder. The decoder starts from the encoder's state and reads
  the future covariates and the step's position in the horizon. It is not fed its own
  predictions (as in MQ-RNN, Wen et al., 2017), so training and use run the same
  computation and there is no exposure bias to correct.

Heads: ``"point"`` (mean squared error), ``"gaussian"`` (mean and standard deviation, negative
log-likelihood) or ``"quantile"`` (one output per quantile, pinball loss).

Shapes: N batch, L past steps, H horizon, F features per step (V value columns, the target
first, then C known covariates such as calendar features), P head parameters per value,
Q quantiles, S sample paths, R rows of a one-step sequence; Hd is the hidden size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.layers import Kind, Recurrent, State
from rnnkit.models.checks import check_choice, check_features, check_positive_int, check_probability
from rnnkit.models.common import evaluating

STRATEGIES = ("direct", "recursive", "seq2seq")
HEADS = ("point", "gaussian", "quantile")
MIN_SIGMA = 1e-3  # in scaled units: keeps the likelihood finite on a perfectly fitted step


class DistributionHead:
    """What the raw outputs of the network mean: ``P`` numbers per forecast value.

    ``loss(raw (..., P), y (...))`` -> scalar; ``quantiles(raw, probabilities)`` -> (..., Q);
    ``sample(raw, generator)`` -> (...) one draw (point: the value itself).
    """

    def __init__(self, kind: str, quantiles: Sequence[float]) -> None:
        check_choice("head", kind, HEADS)
        self.kind = kind
        self.levels = tuple(float(q) for q in quantiles)
        if kind == "quantile":
            if list(self.levels) != sorted(set(self.levels)) or 0.5 not in self.levels:
                raise ValueError(
                    f"quantiles must be increasing, distinct and include 0.5, got {quantiles}"
                )
            if not all(0 < q < 1 for q in self.levels):
                raise ValueError(f"quantiles must lie strictly in (0, 1), got {quantiles}")
        self.size = {"point": 1, "gaussian": 2, "quantile": len(self.levels)}[kind]

    def _gaussian(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        return raw[..., 0], F.softplus(raw[..., 1]) + MIN_SIGMA

    def loss(self, raw: Tensor, y: Tensor) -> Tensor:
        if self.kind == "point":
            return F.mse_loss(raw[..., 0], y)
        if self.kind == "gaussian":
            mu, sigma = self._gaussian(raw)
            z = (y - mu) / sigma
            return (sigma.log() + 0.5 * z * z + 0.5 * math.log(2 * math.pi)).mean()
        levels = torch.tensor(self.levels, dtype=raw.dtype, device=raw.device)
        error = y.unsqueeze(-1) - raw  # (..., Q): positive where the quantile is too low
        return torch.maximum(levels * error, (levels - 1) * error).mean()  # pinball loss

    def check_point(self, probabilities: Sequence[float]) -> None:
        """A point head answers the 0.5 level alone: it has no intervals."""
        if self.kind == "point" and list(probabilities) != [0.5]:
            raise ValueError(
                'a point forecast has no intervals; train with model.head="gaussian" or '
                '"quantile" to get them'
            )

    def quantiles(self, raw: Tensor, probabilities: Sequence[float]) -> Tensor:
        if self.kind == "point":
            self.check_point(probabilities)
            return raw[..., :1]
        if self.kind == "gaussian":
            mu, sigma = self._gaussian(raw)
            z = torch.tensor([_normal_ppf(p) for p in probabilities], dtype=raw.dtype)
            return mu.unsqueeze(-1) + sigma.unsqueeze(-1) * z.to(raw.device)
        missing = [p for p in probabilities if p not in self.levels]
        if missing:
            raise ValueError(f"this model was trained for quantiles {self.levels}, not {missing}")
        # Sorting the outputs removes quantile crossing without changing a proper ranking
        # (the monotone rearrangement of Chernozhukov et al., 2010).
        ordered = raw.sort(dim=-1).values
        return ordered[..., [self.levels.index(p) for p in probabilities]]

    def sample(self, raw: Tensor, generator: torch.Generator | None) -> Tensor:
        if self.kind == "point":
            return raw[..., 0]
        if self.kind != "gaussian":
            raise ValueError('sampling needs model.head="gaussian" or "point"')
        mu, sigma = self._gaussian(raw)
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        return mu + sigma * noise


def _normal_ppf(p: float) -> float:
    if not 0 < p < 1:
        raise ValueError(f"probabilities must lie strictly in (0, 1), got {p}")
    return math.sqrt(2) * torch.erfinv(torch.tensor(2 * p - 1, dtype=torch.float64)).item()


class Forecaster(nn.Module):
    """Recurrent forecaster: ``(N, L, F)`` past steps -> a distribution over H future steps.

    Args:
        input_size: F features per past step: the V value columns (the target first) and
            then C = F - V known covariates.
        horizon: H steps to forecast.
        num_values: V. Default 1 (the target alone). The recursive strategy forecasts all V
            value columns, because it feeds them back; the others forecast the target only.
        strategy: ``"direct"`` (default), ``"recursive"`` or ``"seq2seq"``; see the module.
        head: ``"point"``, ``"gaussian"`` (default) or ``"quantile"`` (not with recursive).
        quantiles: Q increasing levels in (0, 1) including 0.5, for the quantile head.
            Default (0.05, 0.5, 0.95).
        kind, hidden_size, num_layers: the `Recurrent` encoder (and decoder). Defaults
            ``"lstm"``, 64, 1.
        dropout: on the encoder outputs and between stacked layers. Default 0.
        num_samples: S sample paths behind the recursive Gaussian quantiles. Default 200.
        lookback: read only the last ``lookback`` of the L input steps (None, the default:
            all of them): the members of an ensemble read different lengths of one window.

    Call: ``raw, loss = model(inputs, future=None, targets=None)``
        inputs: (N, L, F). future: (N, H, C) covariates of the forecast steps (None when
        C = 0). targets: (N, H, V) values of the forecast steps (the recursive strategy
        reads them for teacher forcing). raw: (N, H, P) head outputs for the target.
        loss: None without targets.

    ``predict(inputs, future, probabilities)`` -> (N, H, Q) target quantiles, in eval mode.
    A point head answers ``probabilities=(0.5,)`` only, with its forecast: the conditional
    mean (what mean squared error learns), where the other heads give the median.
    """

    def __init__(
        self,
        input_size: int,
        horizon: int,
        num_values: int = 1,
        strategy: str = "direct",
        head: str = "gaussian",
        quantiles: Sequence[float] = (0.05, 0.5, 0.95),
        kind: Kind = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        num_samples: int = 200,
        lookback: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in [("input_size", input_size), ("horizon", horizon),
                            ("num_values", num_values), ("num_samples", num_samples)]:  # fmt: skip
            check_positive_int(name, value)
        if lookback is not None:
            check_positive_int("lookback", lookback)
        self.lookback = lookback
        check_choice("strategy", strategy, STRATEGIES)
        check_probability("dropout", dropout, closed=False)
        if num_values > input_size:
            raise ValueError(f"num_values ({num_values}) cannot exceed input_size ({input_size})")
        if strategy == "recursive" and head == "quantile":
            raise ValueError(
                'the recursive strategy samples its paths, which needs head="gaussian" (or '
                '"point"); use quantiles with strategy="direct" or "seq2seq"'
            )
        self.head = DistributionHead(head, quantiles)
        self.horizon, self.strategy, self.num_samples = horizon, strategy, num_samples
        self.num_values, self.num_covariates = num_values, input_size - num_values
        layer_dropout = dropout if num_layers > 1 else 0.0
        self.encoder = Recurrent(kind, input_size, hidden_size, num_layers, dropout=layer_dropout)
        self.drop = nn.Dropout(dropout)
        P, C = self.head.size, self.num_covariates
        if strategy == "direct":
            self.out = nn.Linear(hidden_size + horizon * C, horizon * P)
        elif strategy == "recursive":
            self.out = nn.Linear(hidden_size, num_values * P)
        else:
            # Decoder input: the step's covariates and its position k/H in the horizon.
            self.decoder = Recurrent(kind, C + 1, hidden_size, num_layers, dropout=layer_dropout)
            self.out = nn.Linear(hidden_size, P)

    def forward(
        self, inputs: Tensor, future: Tensor | None = None, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        inputs = self._window(inputs)
        future = self._check(inputs, future)
        if self.strategy == "recursive":
            if targets is None:
                raise ValueError("the recursive strategy trains on targets; use predict()")
            raw = self._teacher_forced(inputs, future, targets)  # (N, H, V, P)
            return raw[:, :, 0], self.head.loss(raw, targets)
        raw = self._all_steps(inputs, future)  # (N, H, P)
        if targets is None:
            return raw, None
        return raw, self.head.loss(raw, targets[..., 0])

    @torch.no_grad()
    def predict(
        self,
        inputs: Tensor,
        future: Tensor | None = None,
        probabilities: Sequence[float] = (0.5,),
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """(N, L, F) past, (N, H, C) future covariates -> (N, H, Q) target quantiles.

        The recursive strategy rolls out ``num_samples`` paths drawn with ``generator``
        (a Gaussian head) or one path (a point head).
        """
        with evaluating(self):
            inputs = self._window(inputs)
            future = self._check(inputs, future)
            if self.strategy != "recursive":
                return self.head.quantiles(self._all_steps(inputs, future), probabilities)
            return self._rollout_quantiles(inputs, future, probabilities, generator)

    def _window(self, inputs: Tensor) -> Tensor:
        """The input steps the network reads: the last ``lookback`` (all without one)."""
        return inputs if self.lookback is None else inputs[:, -self.lookback :]

    def _check(self, inputs: Tensor, future: Tensor | None) -> Tensor:
        check_features(inputs, 3, self.encoder.input_size)
        N, H, C = inputs.shape[0], self.horizon, self.num_covariates
        if future is None:
            if C:
                raise ValueError(f"future must be (N, H={H}, C={C}) covariates, got None")
            return inputs.new_zeros(N, H, 0)
        if future.dim() != 3 or tuple(future.shape) != (N, H, C):
            raise ValueError(f"future must be (N={N}, H={H}, C={C}), got {tuple(future.shape)}")
        return future.to(inputs.dtype)

    def _encode(self, inputs: Tensor) -> tuple[Tensor, State]:
        out, state = self.encoder(inputs)  # (N, L, Hd)
        return self.drop(out), state

    def _all_steps(self, inputs: Tensor, future: Tensor) -> Tensor:
        """The direct and seq2seq strategies: all H steps in one pass, (N, H, P)."""
        if self.strategy == "direct":
            return self._direct(inputs, future)
        return self._seq2seq(inputs, future)

    def _direct(self, inputs: Tensor, future: Tensor) -> Tensor:
        out, _ = self._encode(inputs)
        summary = torch.cat([out[:, -1], future.flatten(1)], dim=1)  # (N, Hd + H*C)
        return self.out(summary).view(len(inputs), self.horizon, self.head.size)

    def _seq2seq(self, inputs: Tensor, future: Tensor) -> Tensor:
        _, state = self._encode(inputs)
        N, H = future.shape[:2]
        position = torch.arange(1, H + 1, dtype=future.dtype, device=future.device) / H
        steps = torch.cat([future, position.view(1, H, 1).expand(N, H, 1)], dim=2)
        out, _ = self.decoder(steps, state)  # (N, H, Hd)
        return self.out(self.drop(out))  # (N, H, P)

    def _raw_step(self, out: Tensor) -> Tensor:
        """(N, R, Hd) -> (N, R, V, P) one-step-ahead head outputs."""
        return self.out(out).view(*out.shape[:2], self.num_values, self.head.size)

    def _teacher_forced(self, inputs: Tensor, future: Tensor, targets: Tensor) -> Tensor:
        """Step k's prediction reads the true values of the steps before it: (N, H, V, P)."""
        if targets.dim() != 3 or targets.shape[2] != self.num_values:
            raise ValueError(
                f"targets must be (N, H, V={self.num_values}), got {tuple(targets.shape)}"
            )
        values = torch.cat([inputs[..., : self.num_values], targets[:, :-1]], dim=1)
        out, _ = self._encode(self._one_step_inputs(values, inputs, future))  # (N, L+H-1, Hd)
        return self._raw_step(out[:, inputs.shape[1] - 1 :])

    def _one_step_inputs(self, values: Tensor, inputs: Tensor, future: Tensor) -> Tensor:
        """Each row's values beside the covariates of the row it predicts (as in DeepAR,
        Salinas et al., 2020): a one-step model knows the calendar of the step it forecasts.
        values: (N, R, V) rows 0.. R-1; the covariates come from rows 1 .. R of the past and
        the future, so the result is (N, R, F)."""
        covariates = torch.cat([inputs[:, 1:, self.num_values :], future], dim=1)
        return torch.cat([values, covariates[:, : values.shape[1]]], dim=2)

    def _rollout_quantiles(
        self,
        inputs: Tensor,
        future: Tensor,
        probabilities: Sequence[float],
        generator: torch.Generator | None,
    ) -> Tensor:
        N, H = future.shape[:2]
        self.head.check_point(probabilities)
        S = 1 if self.head.kind == "point" else self.num_samples
        inputs, future = inputs.repeat_interleave(S, 0), future.repeat_interleave(S, 0)
        past = self._one_step_inputs(inputs[..., : self.num_values], inputs, future)
        out, state = self._encode(past)  # the last row predicts the first forecast step
        paths = []
        for k in range(H):
            values = self.head.sample(self._raw_step(out[:, -1:])[:, 0], generator)  # (NS, V)
            paths.append(values[:, 0])
            if k + 1 < H:  # step k's values beside step k+1's covariates: (NS, 1, F)
                step = torch.cat([values, future[:, k + 1]], dim=1).unsqueeze(1)
                out, state = self.encoder(step, state)
                out = self.drop(out)
        paths_t = torch.stack(paths, dim=1).view(N, S, H)
        levels = torch.tensor(list(probabilities), dtype=paths_t.dtype, device=paths_t.device)
        return torch.quantile(paths_t, levels, dim=1).permute(1, 2, 0)  # (N, H, Q)
