"""Forecast scores: point errors, MASE, interval coverage and width, and a table of them.

    scale = mase_scale(train, season)               # the in-sample (seasonal) naive error
    row = point_scores(actual, forecast, scale)     # {"mae", "rmse", "smape", "mase"}
    row["coverage"] = interval_coverage(actual, lower, upper)
    print(score_table({"naive": row, ...}))

Arrays may have any shape, for instance (K origins, H steps); the arrays scored together
must have the same shape. MASE (Hyndman & Koehler 2006) divides the MAE by the mean absolute
error that the seasonal naive forecast (the value one season back; without a season, the
last value) makes in-sample on the training series, so a MASE below 1 beats that naive
forecast, and scores of series in different units can be compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

COLUMNS = ("mae", "rmse", "smape", "mase", "coverage", "width")


def _check_arrays(**arrays: np.ndarray) -> list[np.ndarray]:
    """The named arrays as float64, checked to share one shape, be non-empty and finite."""
    values = [np.asarray(a, dtype=np.float64) for a in arrays.values()]
    names = list(arrays)
    shapes = {v.shape for v in values}
    if len(shapes) > 1:
        told = ", ".join(f"{n} {v.shape}" for n, v in zip(names, values, strict=True))
        raise ValueError(f"{' and '.join(names)} must have the same shape, got {told}")
    if values[0].size == 0:
        raise ValueError(f"{' and '.join(names)} are empty: there is nothing to score")
    for name, v in zip(names, values, strict=True):
        if not np.all(np.isfinite(v)):
            raise ValueError(
                f"{name} holds {int(np.sum(~np.isfinite(v)))} NaN or infinite values: "
                "score only the steps that have finite values"
            )
    return values


def _check_scale(scale: float) -> float:
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.floating | np.integer):
        raise ValueError(f"scale must be a positive number (from mase_scale), got {scale!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number (from mase_scale), got {scale}")
    return float(scale)


def mase_scale(train: np.ndarray, season: int | None = None) -> float:
    """The MASE denominator: mean |y_t - y_{t-m}| over the training series, m = season or 1.

    Args:
        train: the training part of the series, (T,); the scale comes from it alone, so the
            test values never inform their own scores.
        season: the period m in steps, or None (default) for m = 1, the naive forecast.

    Raises ValueError when T < m + 1 or the scale is 0 (the series repeats itself exactly
    every m steps, as a constant series does): MASE is undefined then.
    """
    bad_int = isinstance(season, bool) or not isinstance(season, int | np.integer)
    if season is not None and (bad_int or season < 1):
        raise ValueError(f"season must be a positive int (steps) or None, got {season!r}")
    m = 1 if season is None else int(season)
    (y,) = _check_arrays(train=train)
    if y.ndim != 1:
        raise ValueError(f"train must be a 1-D series (T,), got shape {y.shape}")
    if len(y) < m + 1:
        raise ValueError(
            f"train must hold at least season + 1 = {m + 1} points to measure the "
            f"in-sample naive error, got {len(y)}"
        )
    scale = float(np.mean(np.abs(y[m:] - y[:-m])))
    if scale == 0:
        raise ValueError(
            f"train repeats itself exactly every {m} step(s) (a constant series does), so "
            "the naive forecast makes no error on it and MASE is undefined: compare MAE "
            "or RMSE instead"
        )
    return scale


def point_scores(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, RMSE, sMAPE and MASE of ``forecast`` against ``actual`` (same shape, any).

    smape is in percent, 100 * mean(2 |y - f| / (|y| + |f|)), from 0 to 200; a term where
    both y and f are 0 counts 0 (a perfect forecast). mase = mae / ``scale``, the value of
    `mase_scale` on the training series.
    """
    scale = _check_scale(scale)
    y, f = _check_arrays(actual=actual, forecast=forecast)
    error = np.abs(y - f)
    total = np.abs(y) + np.abs(f)
    # where= leaves the 0/0 terms at the 0 from np.zeros instead of computing NaN
    ratio = np.divide(2 * error, total, out=np.zeros_like(error), where=total > 0)
    mae = float(np.mean(error))
    return {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(error**2))),
        "smape": float(100 * np.mean(ratio)),
        "mase": mae / scale,
    }


def _check_interval(lower: np.ndarray, upper: np.ndarray) -> None:
    crossed = int(np.sum(lower > upper))
    if crossed:
        raise ValueError(
            f"lower exceeds upper at {crossed} of {lower.size} points: pass the lower "
            "quantile first (are the bounds swapped?)"
        )


def interval_coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """The share of ``actual`` inside [``lower``, ``upper``], bounds included (same shape)."""
    y, lo, hi = _check_arrays(actual=actual, lower=lower, upper=upper)
    _check_interval(lo, hi)
    return float(np.mean((y >= lo) & (y <= hi)))


def interval_width(lower: np.ndarray, upper: np.ndarray, scale: float) -> float:
    """Mean ``upper - lower`` divided by ``scale`` (from `mase_scale`), so that the widths
    of series in different units compare, as MASE does for errors."""
    scale = _check_scale(scale)
    lo, hi = _check_arrays(lower=lower, upper=upper)
    _check_interval(lo, hi)
    return float(np.mean(hi - lo)) / scale


def _column(values: Sequence[float | None]) -> list[str]:
    """A column's cells with one number of decimals: four significant digits of its largest
    value, so that the methods compare digit by digit down the column; "-" where missing."""
    finite = [abs(v) for v in values if _number(v) and v != 0]
    decimals = min(max(3 - math.floor(math.log10(max(finite))), 0), 12) if finite else 3
    return ["-" if v is None else f"{v:.{decimals}f}" for v in values]


def _number(value: float | None) -> bool:
    """Whether ``value`` is a finite number: a NaN or missing mase cannot be the best."""
    return value is not None and math.isfinite(value)


def _line(label: str, first: int, cells: Sequence[str], widths: Sequence[int]) -> str:
    """One table line: the label left-aligned, the cells right-aligned in their widths."""
    return "  ".join(
        [f"{label:<{first}}", *(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))]
    )


def score_table(
    rows: Mapping[str, Mapping[str, float]], columns: Sequence[str] = COLUMNS, label: str = "method"
) -> str:
    """A plain aligned text table: one row per method, one column per score.

    Args:
        rows: method name -> {score name: value}, e.g. from `point_scores`; a score a
            method lacks (coverage of a point forecast) shows as "-".
        columns: the scores to show, in order (default mae, rmse, smape, mase, coverage).
        label: the heading of the rows' names.

    The method(s) with the lowest mase are marked "*", whether or not mase is shown.
    """
    if not rows:
        raise ValueError("rows is empty: score at least one method first")
    if isinstance(columns, str) or not columns:
        raise ValueError(f"columns must be a non-empty sequence of score names, got {columns!r}")
    mase = {n: r["mase"] for n, r in rows.items() if _number(r.get("mase"))}
    best = min(mase.values(), default=None)
    labels = [f"{name} *" if name in mase and mase[name] == best else name for name in rows]
    cells = [_column([row.get(c) for row in rows.values()]) for c in columns]  # by column
    first = max(len(label), *(len(name) for name in labels))
    widths = [
        max(len(c), *(len(v) for v in column)) for c, column in zip(columns, cells, strict=True)
    ]
    lines = [_line(label, first, columns, widths)]
    for i, name in enumerate(labels):
        lines.append(_line(name, first, [column[i] for column in cells], widths))
    if best is not None:
        lines.append("* lowest mase")
    return "\n".join(lines)


def interval_needs(
    actual: np.ndarray, lower: np.ndarray, middle: np.ndarray, upper: np.ndarray
) -> np.ndarray:
    """The factor each value of ``actual`` needs its interval stretched by about its middle,
    [m - s (m - lower), m + s (upper - m)], to just reach it (arrays of one shape)."""
    actual, lower, middle, upper = _check_arrays(
        actual=actual, lower=lower, middle=middle, upper=upper
    )
    tiny = 1e-12  # an interval of zero width on one side needs an infinite factor there
    above = (actual - middle) / np.maximum(upper - middle, tiny)
    below = (middle - actual) / np.maximum(middle - lower, tiny)
    return np.where(actual >= middle, above, below)


def conformal_quantile(needs: np.ndarray, level: float) -> float:
    """The ceil((n + 1) level)-th smallest of the n finite ``needs``: on exchangeable new
    values, the factor that covers at least ``level`` of them. 1.0 when there are none."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    need = np.sort(needs[np.isfinite(needs)].ravel())
    if not need.size:
        return 1.0
    return float(need[min(math.ceil((need.size + 1) * level), need.size) - 1])


def interval_scale(
    actual: np.ndarray, lower: np.ndarray, middle: np.ndarray, upper: np.ndarray, level: float
) -> float:
    """The factor ``s`` that makes intervals cover a share ``level`` of ``actual`` when each
    is stretched about its middle: [m - s (m - lower), m + s (upper - m)].

    Split-conformal calibration (Vovk et al., 2005; Romano et al., 2019 for quantile
    intervals), multiplicative here so the intervals keep their shape over the horizon:
    each value needs the factor that just reaches it (`interval_needs`), and ``s`` is their
    `conformal_quantile`, so that on exchangeable new values the coverage is at least
    ``level``. Arrays of the same shape, any; s > 1 widens, s < 1 narrows.
    """
    return conformal_quantile(interval_needs(actual, lower, middle, upper), level)


def rolling_scales(
    val_needs: np.ndarray,
    val_origins: np.ndarray,
    test_needs: np.ndarray,
    test_origins: np.ndarray,
    level: float,
    recent: int,
) -> np.ndarray:
    """(K + 1, H) factors for the intervals of each of K forecast origins, and of a forecast
    after them all: for each step h, the `conformal_quantile` of the ``recent`` latest needs
    (`interval_needs`) at that step among those whose values are known before the origin.

    A series' errors change with time (a calm decade, then a recession), so a calibration
    on the validation windows alone goes stale. Here the validation windows' needs (Sv, H)
    come first, then each test forecast's (K, H), step by step as their values come in:
    a forecast at origin ``o`` uses a need at step h from origin ``o'`` only when
    ``o' + h < o``, the row it is a need for already seen (no value from ``o`` on is read).
    Per step, as the errors of a forecast two years ahead are not those of one a quarter
    ahead. The last row, after every origin, is what a forecast after the series uses.
    """
    H = val_needs.shape[1]
    ends = np.append(test_origins, np.inf)  # the last row: everything is known
    out = np.ones((len(ends), H))
    for h in range(H):
        times = np.concatenate([val_origins, test_origins]) + h  # the rows the needs are for
        needs = np.concatenate([val_needs[:, h], test_needs[:, h]])
        order = np.argsort(times, kind="stable")
        times, needs = times[order], needs[order]
        for k, end in enumerate(ends):
            known = needs[times < end]
            known = known[np.isfinite(known)]
            out[k, h] = conformal_quantile(known[-recent:], level)
    return out


def stretch(q: np.ndarray, s: float | np.ndarray) -> np.ndarray:
    """(..., Q) quantiles stretched by ``s`` about their middle column (see `interval_scale`):
    one factor, or one per row of ``q``'s leading axes (``s`` broadcast against ``q[..., 0]``,
    e.g. (H,) for (S, H, Q): one per step)."""
    middle = q[..., q.shape[-1] // 2 : q.shape[-1] // 2 + 1]
    return middle + np.asarray(s, dtype=np.float64)[..., None] * (q - middle)
