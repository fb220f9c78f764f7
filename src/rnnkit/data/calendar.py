"""Dates a series does not hold yet, and where each date sits in its cycles.

    dates = future_index(data.frame.index[-1], data.freq, horizon=12)
    x = calendar_features(dates, ["dayofweek", "month"])  # (12, 4) covariates

Calendar covariates are known ahead of time, so a forecaster may read them for the steps it
forecasts as well as for the steps it has seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

WEEKS_PER_YEAR = 365.2425 / 7  # mean length of an ISO year in weeks


def future_index(last: pd.Timestamp, freq: str, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` dates after ``last`` at ``freq`` (named "date", with ``.freq`` set)."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a positive int, got {horizon!r}")
    offset = to_offset(freq)
    # last + offset is the next date on the grid, also when last itself is not on it.
    return pd.date_range(pd.Timestamp(last) + offset, periods=horizon, freq=offset, name="date")


# Where each date is in a cycle, as a fraction in [0, 1); sin and cos of it make the end of
# a cycle meet its start (hour 23 is next to hour 0), which a plain number cannot say.
_CYCLES = {
    "hour": lambda i: (i.hour + i.minute / 60) / 24,  # minutes too, for sub-hourly series
    "dayofweek": lambda i: i.day_of_week / 7,
    "dayofmonth": lambda i: (i.day - 1) / i.days_in_month,
    "month": lambda i: (i.month - 1) / 12,
    "weekofyear": lambda i: (i.isocalendar().week.to_numpy(float) - 1) / WEEKS_PER_YEAR,
    "dayofyear": lambda i: (i.day_of_year - 1) / (365 + i.is_leap_year),
}
CALENDAR = tuple(_CYCLES)  # ("hour", "dayofweek", "dayofmonth", "month", "weekofyear", ...)


def calendar_features(index: pd.DatetimeIndex, names: Sequence[str]) -> np.ndarray:
    """(T, 2 * len(names)) float32: sin and cos of each date's place in each named cycle of
    `CALENDAR`, in the order of ``names``. Past or future dates alike (`future_index`)."""
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(f"index must be a pandas DatetimeIndex, got {type(index).__name__}")
    if isinstance(names, str):
        raise ValueError(f"names must be a list of names, e.g. [{names!r}], not a string")
    unknown = [name for name in names if name not in _CYCLES]
    if unknown:
        raise ValueError(f"unknown calendar feature {unknown[0]!r}; choose from {list(CALENDAR)}")
    features = np.zeros((len(index), 2 * len(names)), dtype=np.float32)
    for k, name in enumerate(names):
        angle = 2 * np.pi * np.asarray(_CYCLES[name](index), dtype=np.float64)  # (T,)
        features[:, 2 * k], features[:, 2 * k + 1] = np.sin(angle), np.cos(angle)
    return features


def calendar_width(names: Sequence[str]) -> int:
    """C, the number of covariates `calendar_features` makes of ``names``: a sin/cos pair each."""
    return 2 * len(names)
