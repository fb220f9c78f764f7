"""Time series for forecasting: a bundled series or a CSV/TSV file as a regular, gap-free frame.

    data = load_series("co2")                              # weekly Mauna Loa CO2 (statsmodels)
    data = load_series("prices.csv", target="Close", missing="interpolate")

Here: the bundled series, the seasonal period of a frequency, and the missing-value policy
applied last (leading rows without every value dropped; gaps filled, or a one-line error
naming where a value is missing); `fill_causal` fills again without reading ahead of a cut.
A file is read and laid on its regular grid by `rnnkit.data.series_file`. Every problem a
user can fix is a one-line ValueError (FileNotFoundError for a missing file) that names the
file, the line where it has one, and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rnnkit.data.registry import DataSet, dataset, parse_source
from rnnkit.data.registry import names as dataset_names
from rnnkit.data.series_file import (
    check_length,
    parse_freq,
    read_series_file,
    show_date,
    value_columns,
)
from rnnkit.data.tables import check_file

__all__ = [
    "MISSING",
    "SEASONS",
    "SeriesData",
    "check_options",
    "fill_causal",
    "load_series",
    "season_of",
    "series_data",
]

# Seasonal period in steps, by pandas frequency prefix (the part before "-": "W-SAT" is "W"):
# hours in a day, days (trading days) in a week, weeks in a year (52.18, the nearest whole
# period), half months, months and quarters in a year. Others (yearly, minutes) have none.
SEASONS: dict[str, int] = (
    {"h": 24, "D": 7, "B": 5, "C": 5, "W": 52}
    | dict.fromkeys(("SME", "SMS"), 24)
    | dict.fromkeys(("ME", "MS", "BME", "BMS"), 12)
    | dict.fromkeys(("QE", "QS", "BQE", "BQS"), 4)
)
MISSING = ("error", "interpolate", "ffill")


@dataclass
class SeriesData:
    """A regular series: ``frame`` has a DatetimeIndex named "date" with ``.freq`` set, no
    gaps, and float64 value columns without NaN; ``target`` is one of them. ``freq`` is the
    pandas frequency string, ``season`` the seasonal period in steps (None: no seasonality),
    ``source`` what it was loaded from, ``filled`` how many cells the missing policy filled,
    ``holes`` which ones (a bool frame like ``frame``) and ``missing`` the policy that did."""

    frame: pd.DataFrame
    target: str
    freq: str
    season: int | None
    source: str
    filled: int
    holes: pd.DataFrame
    missing: str = "error"


def load_series(
    source: str | Path,
    target: str | None = None,
    columns: list[str] | None = None,
    date_column: str | None = None,
    freq: str | None = None,
    missing: str = "error",
    max_gap: int = 3,
    season: int | None = None,
) -> SeriesData:
    """The series named by ``source``: "co2", "sunspots", or a ``.csv``/``.tsv`` file.

    Args:
        target: the column to forecast; default the only value column.
        columns: the value columns of a file; default every column but the date.
        date_column: the column of a file holding the dates; default its first column.
        freq: a pandas frequency ("D", "B", "W-SAT", "MS"); default inferred from the dates.
        missing: "error" (default), "interpolate" (linear) or "ffill": what to do with a
            missing value. Rows before every column has a value are dropped; trailing missing
            values are forward-filled under both filling policies.
        max_gap: the longest run of missing steps in a column a policy may fill (default 3).
        season: the seasonal period in steps; default `season_of` the frequency.

    "co2" is statsmodels' weekly Mauna Loa CO2 (2,284 weeks from 1958, season 52); its 59
    missing weeks (runs of up to 18) are interpolated linearly here whatever ``missing`` and
    ``max_gap`` say: those settings are for the user's own files. "sunspots" is the yearly
    sunspot number 1700-2008 (target "sunactivity"; season 11, the approximate solar cycle).
    Both need no network.
    """
    check_options(missing, max_gap, season)
    where, bundled = str(source), _bundled_set(source)
    if bundled is not None:
        frame, lines = _bundled(where, date_column, freq), None
        names = value_columns(list(frame.columns), None, columns, where)
        missing, max_gap = "interpolate", len(frame)  # the bundled series' known gaps
    else:
        give = f"a .csv or .tsv file, or one of {', '.join(dataset_names('series'))}"
        path = check_file(source, (".csv", ".tsv"), give)
        where = str(path)
        frame, names, lines = read_series_file(path, date_column, columns, freq)
    target = _target(names, target, where)
    if season is None and bundled is not None:
        season = bundled.season
    return series_data(frame[names], target, lines, where, missing, max_gap, season)


def series_data(
    frame: pd.DataFrame,
    target: str,
    lines: pd.Series | None,
    where: str,
    missing: str = "error",
    max_gap: int = 3,
    season: int | None = None,
) -> SeriesData:
    """The `SeriesData` of ``frame``, value columns on their regular grid with NaN where a
    value is missing (`rnnkit.data.series_file.table_frame`): the rows before every column
    has a value dropped, then ``missing`` applied. ``lines`` maps dates to the file's lines
    (None: no file), ``where`` names the series in messages; the other arguments as
    `load_series` takes them."""
    frame, holes = _apply_missing(frame, target, missing, max_gap, lines, where)
    check_length(len(frame), where, " once the rows before every column has a value are gone")
    freqstr = frame.index.freqstr
    season = season_of(freqstr) if season is None else season
    filled = int(holes.to_numpy().sum())
    return SeriesData(frame, target, freqstr, season, where, filled, holes, missing)


def season_of(freq: str) -> int | None:
    """The seasonal period in steps of a pandas frequency: `SEASONS` divided by the step
    multiple ("h" 24, "2h" 12, "W-SAT" 52); None without one (yearly, or "5h")."""
    offset = parse_freq(freq)
    period = SEASONS.get(offset.rule_code.split("-")[0])
    if period is None or period % offset.n:
        return None
    return period // offset.n


def check_options(missing: str, max_gap: int, season: int | None) -> None:
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {', '.join(MISSING)}, got {missing!r}")
    if isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 0:
        raise ValueError(f"max_gap must be an int >= 0 (steps), got {max_gap!r}")
    bad_int = isinstance(season, bool) or not isinstance(season, int)
    if season is not None and (bad_int or season < 2):
        raise ValueError(f"season must be an int >= 2 (steps) or None, got {season!r}")


def _target(names: list[str], target: str | None, where: str | Path) -> str:
    listed = ", ".join(map(repr, names))
    if target is None:
        if len(names) == 1:
            return names[0]
        raise ValueError(
            f"{where} has several value columns ({listed}); "
            "say which to forecast with --target or data.target"
        )
    if target not in names:
        raise ValueError(
            f"target {target!r} is not a value column of {where}; choose one of {listed}"
        )
    return target


# ---- the bundled series -----------------------------------------------------------------


def _bundled_set(source: str | Path) -> DataSet | None:
    """The named series ``source`` names, or None for a file; another kind's name is an error."""
    if parse_source(source).form != "named":
        return None
    return dataset(str(source), "series")


def _bundled(source: str, date_column: str | None, freq: str | None) -> pd.DataFrame:
    """The bundled series as a frame on its own dates (co2 still has its NaN)."""
    from statsmodels.datasets import co2, sunspots  # imported here: statsmodels is slow

    if source == "co2":
        frame = co2.load_pandas().data.astype("float64")  # W-SAT index, 59 NaN
        frame.index = pd.DatetimeIndex(frame.index, freq="W-SAT", name="date")
    else:
        raw = sunspots.load_pandas().data
        years = raw["YEAR"].astype(int).astype(str)
        index = pd.DatetimeIndex(pd.to_datetime(years, format="%Y"), freq="YS-JAN", name="date")
        frame = pd.DataFrame({"sunactivity": raw["SUNACTIVITY"].to_numpy("float64")}, index)
    if date_column is not None or (freq is not None and parse_freq(freq) != frame.index.freq):
        raise ValueError(
            f"{source} is a bundled series with its own dates at {frame.index.freqstr}; "
            "date_column and freq are for .csv/.tsv files"
        )
    return frame


# ---- missing values ---------------------------------------------------------------------


def _apply_missing(
    frame: pd.DataFrame,
    target: str,
    missing: str,
    max_gap: int,
    lines: pd.Series | None,
    where: str | Path,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frame without NaN, the cells filled): leading rows trimmed, then ``missing`` applied."""
    frame = _trim_start(frame, target, where)
    holes = frame.isna()
    if not holes.to_numpy().any():
        return frame, holes
    if missing == "error":
        row = holes.any(axis=1).to_numpy().argmax()
        date, column = frame.index[row], frame.columns[holes.iloc[row].to_numpy().argmax()]
        found = lines is not None and date in lines.index
        at = f"line {lines[date]}" if found else "a date missing from the file"
        holiday = frame.index.freqstr == "B" and not found
        hint = " (a missing trading day is most often a market holiday)" if holiday else ""
        raise ValueError(
            f"{where}: no value for column {column!r} on {show_date(date)} ({at}){hint}; "
            "choose data.missing=interpolate or ffill, or fill it in the file"
        )
    for column in frame.columns:
        _check_runs(holes[column].to_numpy(), frame.index, column, max_gap, where)
    return _fill(frame, missing), holes


def _fill(frame: pd.DataFrame, missing: str) -> pd.DataFrame:
    if missing == "interpolate":
        frame = frame.interpolate(method="linear", limit_area="inside")
    return frame.ffill()  # trailing runs (all runs under ffill) take the last value


def fill_causal(series: SeriesData, cut: int) -> pd.DataFrame:
    """``series.frame`` with its filled cells filled again so that none reads a value at or
    after row ``cut``: the rows before it by the series' policy from those rows alone, the rows
    from it on with the last value before each (a forecast made at any later origin could
    have known it). Interpolating the whole series at once would carry values of a test
    part into the training part it is cut from."""
    if not series.filled:
        return series.frame
    raw = series.frame.mask(series.holes)
    before = _fill(raw.iloc[:cut], series.missing)
    return pd.concat([before, raw.iloc[cut:]]).ffill()


def _trim_start(frame: pd.DataFrame, target: str, where: str | Path) -> pd.DataFrame:
    """The rows from the first date on which every column has a value: nothing before it can
    be filled."""
    starts = {column: frame[column].first_valid_index() for column in frame.columns}
    for column, start in starts.items():
        if start is None:
            role = "the target column" if column == target else "column"
            fix = "" if column == target else "; leave it out of data.columns"
            raise ValueError(f"{where}: {role} {column!r} has no values{fix}")
    return frame.loc[max(starts.values()) :]


def _check_runs(
    holes: np.ndarray, dates: pd.DatetimeIndex, column: str, max_gap: int, where: str | Path
) -> None:
    """Raise at the first run of more than ``max_gap`` missing steps in ``holes`` (T,) bool."""
    edges = np.diff(np.concatenate([[0], holes.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    long = np.flatnonzero(ends - starts > max_gap)
    if long.size:
        start, length = starts[long[0]], ends[long[0]] - starts[long[0]]
        raise ValueError(
            f"{where}: column {column!r} is missing {length} steps in a row from "
            f"{show_date(dates[start])}; raise data.max_gap (now {max_gap}) or fill them in "
            "the file"
        )
