"""Sliding windows over a series and the scaling the network sees, fitted on training rows only.

A window at origin ``o`` is the L steps before it (rows ``o-L .. o-1``, the inputs) and the H
steps from it (rows ``o .. o+H-1``, the targets). The network reads scaled values:

    z = (x - center) / scale      per value column, center and scale from training rows only

With ``relative`` (the default) every value column of a window is also shifted by its last
input value, so the network reads and predicts changes from the forecast origin instead of
levels it may never have seen in training: a trending series (CO2, a price) leaves its
training range, its changes do not. On log prices such a change is a cumulative log return.
Each column's scale is then the size of its one-step changes, their root mean square: a
steady trend counts in it (their spread around their mean would make a smooth trending
series' windows span hundreds of units, too fine for a network to forecast precisely).

Shapes: T steps, V value columns (the target first), C covariates, F = V + C, L input
length, H horizon, S windows, Q quantiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass
class SeriesScaler:
    """Affine scaling of the V value columns, with the optional log of the target (only the
    target: other columns, a volume say, may be zero)."""

    center: list[float]
    scale: list[float]
    log: bool = False  # the target is modelled as log(x)
    relative: bool = True  # the value columns are read relative to the origin

    @classmethod
    def fit(
        cls, train: np.ndarray, log: bool = False, relative: bool = True, steps: str = "rms"
    ) -> SeriesScaler:
        """Fit on (T_train, V) training values only; nothing later in the series is read.
        ``steps``: a relative scale is the root mean square of the one-step changes
        ("rms") or their standard deviation ("std": how runs before the first were scaled)."""
        if steps not in ("rms", "std"):
            raise ValueError(f"steps must be rms or std, got {steps!r}")
        train = _as_float(train)
        if log:
            train = _log_target(train)
        center, scale = train.mean(axis=0), train.std(axis=0)
        if relative:  # changes from the origin have no center; their size is the steps'
            change = np.diff(train, axis=0)
            size = np.sqrt(np.mean(change**2, axis=0)) if steps == "rms" else change.std(axis=0)
            center, scale = np.zeros_like(center), size
        scale = np.where(scale > 1e-12, scale, 1.0)  # a constant column stays as it is
        return cls(center.tolist(), scale.tolist(), log, relative)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """(T, V) values -> (T, V) scaled (before the shift to the origin)."""
        values = _as_float(values)
        if self.log:
            values = _log_target(values)
        return (values - np.asarray(self.center)) / np.asarray(self.scale)

    def target_z(self, values: np.ndarray) -> np.ndarray:
        """Values of the target (any shape) -> scaled, as `transform` scales its column."""
        values = np.log(values) if self.log else np.asarray(values, dtype=np.float64)
        return (values - self.center[0]) / self.scale[0]

    def target_values(self, z: np.ndarray, origin_z: np.ndarray | float) -> np.ndarray:
        """Scaled target forecasts (any shape, relative when the scaler is) -> values.

        ``origin_z``: the scaled target at the last input step, broadcast against ``z``.
        """
        if self.relative:
            z = z + origin_z
        out = z * self.scale[0] + self.center[0]
        return np.exp(out) if self.log else out

    def to_dict(self) -> dict[str, Any]:
        return {"center": self.center, "scale": self.scale, "log": self.log,
                "relative": self.relative}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesScaler:
        return cls(list(data["center"]), list(data["scale"]), bool(data["log"]),
                   bool(data["relative"]))  # fmt: skip


def _as_float(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or not np.isfinite(values).all():
        raise ValueError(f"values must be a finite (T, V) array, got shape {values.shape}")
    return values


def _log_target(values: np.ndarray) -> np.ndarray:
    if (values[:, 0] <= 0).any():
        raise ValueError(
            "data.transform=log needs a positive target, and this one has values <= 0; "
            "use data.transform=none"
        )
    out = values.copy()
    out[:, 0] = np.log(out[:, 0])
    return out


def windows(
    z: np.ndarray,
    covariates: np.ndarray,
    origins: np.ndarray,
    input_length: int,
    horizon: int,
    relative: bool,
    anchor: np.ndarray | None = None,
) -> tuple[dict[str, Tensor], np.ndarray]:
    """The windows at ``origins`` as float32 tensors for `rnnkit.models.Forecaster`.

    Args:
        z: (T, V) scaled values. covariates: (T', C) known covariates (C may be 0), T' >= T;
            rows past T are the covariates of dates after the data (a forecast's future).
        origins: (S,) first forecast row of each window; each needs L rows before it.
            Target rows past T are NaN (a forecast beyond the data has no targets).
        relative: shift each value column by its value at the last input step.
        anchor: (S,) what the target column is shifted by instead (with ``relative``): the
            hybrid strategy's scaled level at each last input step.

    Returns the batch ``{"inputs": (S, L, V + C), "future": (S, H, C), "targets": (S, H, V)}``
    and ``origin`` (S,), the scaled target at each last input step (what a relative
    forecast is relative to).
    """
    T = len(z)
    origins = np.asarray(origins, dtype=np.int64)
    if len(origins) and (origins.min() < input_length or origins.max() > T):
        raise ValueError(f"window origins must lie in [{input_length}, {T}], got {origins}")
    past = origins[:, None] + np.arange(-input_length, 0)  # (S, L) row numbers
    ahead = origins[:, None] + np.arange(horizon)  # (S, H)
    if len(origins) and ahead.max() >= len(covariates):
        raise ValueError(
            f"covariates cover {len(covariates)} rows; the windows need {ahead.max() + 1}"
        )
    inside = ahead < T
    targets = np.where(inside[..., None], z[np.minimum(ahead, T - 1)], np.nan)  # (S, H, V)
    inputs = np.concatenate([z[past], covariates[past]], axis=2)  # (S, L, F)
    last = z[origins - 1]  # (S, V)
    if anchor is not None:
        last[:, 0] = anchor
    if relative:
        V = z.shape[1]
        inputs[:, :, :V] -= last[:, None]
        targets -= last[:, None]
    batch = {
        "inputs": torch.tensor(inputs, dtype=torch.float32),
        "future": torch.tensor(covariates[ahead], dtype=torch.float32),
        "targets": torch.tensor(targets, dtype=torch.float32),
    }
    return batch, last[:, 0].copy()
