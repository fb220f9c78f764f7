"""Time series for forecasting: a bundled series or a CSV/TSV file as a regular, gap-free frame.

    data = load_series("co2")                              # weekly Mauna Loa CO2 (statsmodels)
    data = load_series("prices.csv", target="Close", missing="interpolate")

A file is read in steps, one function each: the table (every cell as text, so a bad cell is
reported as it is written), the dates (parsed, unique, increasing), the value columns
(numbers; empty cells and NA-like text are missing), the frequency (given or inferred) and
the full regular grid at that frequency (dates missing from the file become missing rows),
and last the missing-value policy. Every problem a user can fix is a one-line ValueError
(FileNotFoundError for a missing file) that names the file, the line as an editor numbers it
(the header is line 1; a quoted cell spanning lines shifts the count) and what to do.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset

from rnnkit.data.registry import DataSet, dataset, parse_source
from rnnkit.data.registry import names as dataset_names
from rnnkit.data.tables import check_file, no_column, read_text

__all__ = [
    "MISSING",
    "SEASONS",
    "SeriesData",
    "fill_causal",
    "load_series",
    "season_of",
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
FREQ_HINT = "like D, B, h, W-SUN, MS, ME, QS or YS"


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
    _check_options(missing, max_gap, season)
    where, bundled = str(source), _bundled_set(source)
    if bundled is not None:
        frame, lines = _bundled(where, date_column, freq), None
        names = _value_columns(list(frame.columns), None, columns, where)
        missing, max_gap = "interpolate", len(frame)  # the bundled series' known gaps
    else:
        give = f"a .csv or .tsv file, or one of {', '.join(dataset_names('series'))}"
        path = check_file(source, (".csv", ".tsv"), give)
        where = str(path)
        table = _read_table(path)
        date_column = _date_column(table, date_column, path)
        dates = _parse_dates(table[date_column], date_column, path)
        _check_order(dates, table.index, path)
        names = _value_columns(list(table.columns), date_column, columns, path)
        values = _numbers(table[names], path).set_axis(dates)
        lines = pd.Series(table.index, index=dates)
        frame = _regular(values, _frequency(dates, freq, path), lines, path)
    target = _target(names, target, where)
    frame, holes = _apply_missing(frame[names], target, missing, max_gap, lines, where)
    _check_length(len(frame), where, " once the rows before every column has a value are gone")
    freqstr = frame.index.freqstr
    if season is None:
        season = bundled.season if bundled is not None else season_of(freqstr)
    filled = int(holes.to_numpy().sum())
    return SeriesData(frame, target, freqstr, season, where, filled, holes, missing)


def season_of(freq: str) -> int | None:
    """The seasonal period in steps of a pandas frequency: `SEASONS` divided by the step
    multiple ("h" 24, "2h" 12, "W-SAT" 52); None without one (yearly, or "5h")."""
    offset = _offset(freq)
    period = SEASONS.get(offset.rule_code.split("-")[0])
    if period is None or period % offset.n:
        return None
    return period // offset.n


# ---- the bundled series -----------------------------------------------------------------


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
    if date_column is not None or (freq is not None and _offset(freq) != frame.index.freq):
        raise ValueError(
            f"{source} is a bundled series with its own dates at {frame.index.freqstr}; "
            "date_column and freq are for .csv/.tsv files"
        )
    return frame


def _check_options(missing: str, max_gap: int, season: int | None) -> None:
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {', '.join(MISSING)}, got {missing!r}")
    if isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 0:
        raise ValueError(f"max_gap must be an int >= 0 (steps), got {max_gap!r}")
    bad_int = isinstance(season, bool) or not isinstance(season, int)
    if season is not None and (bad_int or season < 2):
        raise ValueError(f"season must be an int >= 2 (steps) or None, got {season!r}")


def _offset(freq: str) -> BaseOffset:
    """The pandas offset of ``freq``, which must step forward."""
    try:
        offset = to_offset(freq) if isinstance(freq, str) else None
    except ValueError as e:
        raise ValueError(f"freq {freq!r} is not a pandas frequency; give one {FREQ_HINT}") from e
    if offset is None or offset.n < 1:
        raise ValueError(f"freq must be a forward pandas frequency {FREQ_HINT}, got {freq!r}")
    return offset


# ---- reading a file ---------------------------------------------------------------------


def _bundled_set(source: str | Path) -> DataSet | None:
    """The named series ``source`` names, or None for a file; another kind's name is an error."""
    if parse_source(source).form != "named":
        return None
    return dataset(str(source), "series")


def _read_table(path: Path) -> pd.DataFrame:
    """Every cell as text (NaN where empty or NA-like), indexed by its line number."""
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    text = read_text(path)  # UTF-8 without a byte-order mark; binary files are refused
    try:
        with warnings.catch_warnings():
            # Rows longer than the header: pandas would warn and drop the extra fields.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # Blank lines are kept while reading so that row i stays line i + 2; index_col=False:
            # never take the first column as the index.
            table = pd.read_csv(
                io.StringIO(text), sep=sep, dtype=str, index_col=False, skip_blank_lines=False
            )
    except pd.errors.ParserWarning as e:
        raise ValueError(
            f"{path} has rows with more fields than its header line; name every column"
        ) from e
    except pd.errors.EmptyDataError as e:
        raise ValueError(f"{path} is empty; it needs a header line and one row per date") from e
    except pd.errors.ParserError as e:
        raise ValueError(f"{path}: {str(e).strip()}; fix that line") from e
    table.index = table.index + 2  # the header is line 1
    table = table.dropna(how="all")  # blank lines
    _check_length(len(table), path)
    return table


def _check_length(rows: int, where: str | Path, after: str = "") -> None:
    if rows < 3:
        raise ValueError(f"{where} has {rows} rows{after}; a series needs at least 3 dates")


def _date_column(table: pd.DataFrame, date_column: str | None, path: Path) -> str:
    if date_column is None:
        return table.columns[0]
    if date_column not in table.columns:
        raise no_column(path, date_column, table.columns, what="date ")
    return date_column


def _parse_dates(text: pd.Series, column: str, path: Path) -> pd.DatetimeIndex:
    """The dates of ``text`` (indexed by line); the first one that does not parse is an error.

    ISO 8601 first, in any of its forms ("2024-01-01" next to "2024-01-01 01:00"); a date it
    cannot read is parsed in the format pandas infers from the first value ("01/31/2024")."""
    text = text.str.strip()
    with warnings.catch_warnings():
        # A first value that is not a date makes pandas warn that it parses element by
        # element; that value is reported below.
        warnings.simplefilter("ignore", UserWarning)
        try:
            dates = pd.to_datetime(text, errors="coerce", format="ISO8601")
            if dates.isna().any():
                dates = dates.where(dates.notna(), pd.to_datetime(text, errors="coerce"))
        except (ValueError, TypeError) as e:  # e.g. a mix of UTC offsets
            raise ValueError(
                f"{path}: the dates in column {column!r} do not parse together "
                f"({str(e).split('.')[0]}); write them all alike, e.g. YYYY-MM-DD HH:MM"
            ) from e
    if dates.isna().any():
        line = dates.index[dates.isna().argmax()]
        said = "has no date" if pd.isna(text[line]) else f"{text[line]!r} is not a date"
        raise ValueError(
            f"{path} line {line}: {said} in column {column!r}; write dates like YYYY-MM-DD"
        )
    return pd.DatetimeIndex(dates, name="date")


def _show(date: pd.Timestamp) -> str:
    """A date for a message: without its time at midnight."""
    return str(date.date()) if date == date.normalize() else str(date)


def _check_order(dates: pd.DatetimeIndex, lines: pd.Index, path: Path) -> None:
    """One row per date, in increasing order."""
    repeated = dates.duplicated()
    if repeated.any():
        i = repeated.argmax()
        first = int(np.flatnonzero(dates == dates[i])[0])
        raise ValueError(
            f"{path} lines {lines[first]} and {lines[i]} have the same date {_show(dates[i])}; "
            "keep one row per date"
        )
    backwards = np.flatnonzero(dates[1:] < dates[:-1])
    if backwards.size:
        i = backwards[0] + 1
        raise ValueError(
            f"{path} line {lines[i]}: {_show(dates[i])} comes before {_show(dates[i - 1])} on line "
            f"{lines[i - 1]}; sort the file by date"
        )


def _value_columns(
    available: list[str], date_column: str | None, columns: list[str] | None, where: str | Path
) -> list[str]:
    if isinstance(columns, str):
        raise ValueError(f"columns must be a list of column names, e.g. [{columns!r}]")
    names = [c for c in available if c != date_column] if columns is None else list(columns)
    for name in names:
        if name not in available:
            raise no_column(where, name, available)
    if date_column in names:
        raise ValueError(f"{date_column!r} is the date column of {where}; leave it out of columns")
    if not names:
        raise ValueError(f"{where} has no value columns besides the date column {date_column!r}")
    return list(dict.fromkeys(names))  # a column named twice is read once


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


def _numbers(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The value columns as float64 (NaN where missing); text that is not a number is an error."""
    values = {}
    for name in table.columns:
        text = table[name].str.strip()
        text = text.mask(text == "")  # a cell of spaces is as empty as an empty one
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = (numbers.isna() & text.notna()) | np.isinf(numbers)
        if bad.any():
            line = bad.index[bad.argmax()]
            raise ValueError(
                f"{path} line {line}: column {name!r} has {text[line]!r}, not a finite number; "
                "fix it, or choose the value columns with data.columns=[...]"
            )
        values[name] = numbers.to_numpy()
    return pd.DataFrame(values)


# ---- frequency and the regular grid -----------------------------------------------------


def _frequency(dates: pd.DatetimeIndex, freq: str | None, path: Path) -> BaseOffset:
    """``freq``, or the frequency the dates follow (pandas' inference, else trading days,
    else the step between at least 90% of consecutive dates)."""
    if freq is not None:
        return _offset(freq)
    with warnings.catch_warnings():
        # pandas 3 announces that infer_freq will return an offset; to_offset takes both.
        warnings.simplefilter("ignore", DeprecationWarning)
        inferred = pd.infer_freq(dates)
    if inferred is not None:
        return to_offset(inferred)
    steps = pd.Series(dates[1:] - dates[:-1]).value_counts()
    step, share = steps.index[0], steps.iloc[0] / steps.sum()
    day = pd.Timedelta(days=1)
    # Weekdays a day apart are trading days with holidays; weekdays a week apart are weekly.
    if (
        (dates.day_of_week < 5).all()
        and (dates == dates.normalize()).all()
        and steps.index.min() == day
    ):
        return to_offset("B")
    if share >= 0.9:
        if step == 7 * day and dates.day_of_week.nunique() == 1:
            return to_offset(f"W-{dates[0].day_name()[:3].upper()}")
        return to_offset(f"{step.days}D" if step % day == pd.Timedelta(0) else step)
    raise ValueError(
        f"{path}: cannot tell the frequency of the dates (the most common step, {step}, is "
        f"between only {share:.0%} of consecutive rows); give it with data.freq=... {FREQ_HINT}"
    )


def _regular(
    values: pd.DataFrame, offset: BaseOffset, lines: pd.Series, path: Path
) -> pd.DataFrame:
    """``values`` on every date from its first to its last at ``offset``: dates the file
    lacks become rows of NaN. A date off that grid is an error."""
    dates = values.index
    grid = pd.date_range(dates[0], dates[-1], freq=offset, name="date")
    off = ~dates.isin(grid)
    if off.any():
        date = dates[off.argmax()]
        raise ValueError(
            f"{path} line {lines[date]}: {_show(date)} is off the {offset.freqstr} grid that "
            f"starts at {_show(offset.rollforward(dates[0]))}; give the right data.freq or fix it"
        )
    return values.reindex(grid)


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
            f"{where}: no value for column {column!r} on {_show(date)} ({at}){hint}; "
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
            f"{_show(dates[start])}; raise data.max_gap (now {max_gap}) or fill them in the file"
        )
