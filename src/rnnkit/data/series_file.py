"""Reading a series file: a .csv/.tsv table, checked cell by cell, on a regular date grid.

    frame, names, lines = read_series_file(path, date_column=None, columns=None, freq=None)

A file is read in steps, one function each: the table (every cell as text, so a bad cell is
reported as it is written), the dates (parsed, unique, increasing), the value columns
(numbers; empty cells and NA-like text are missing), the frequency (given or inferred) and
the full regular grid at that frequency (dates missing from the file become missing rows).
Every problem a user can fix is a one-line ValueError that names the file, the line as an
editor numbers it (the header is line 1; a quoted cell spanning lines shifts the count) and
what to do. The missing-value policy and the bundled series are `rnnkit.data.series`.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import BaseOffset

from rnnkit.data.tables import no_column, read_text

__all__ = [
    "FREQ_HINT",
    "check_length",
    "date_column_of",
    "parse_freq",
    "read_series_file",
    "read_table",
    "show_date",
    "table_frame",
    "value_columns",
]

FREQ_HINT = "like D, B, h, W-SUN, MS, ME, QS or YS"


def read_series_file(
    path: Path, date_column: str | None, columns: list[str] | None, freq: str | None
) -> tuple[pd.DataFrame, list[str], pd.Series]:
    """(frame, value column names, line of each date) of the file ``path``: the frame holds
    float64 value columns (NaN where missing) on every date of the grid at ``freq`` (default
    inferred), dates the file lacks as rows of NaN; ``lines`` maps each date the file has to
    the line it is on. Arguments as `rnnkit.data.series.load_series` takes them."""
    table = read_table(path)
    date_column = date_column_of(table, date_column, path)
    names = value_columns(list(table.columns), date_column, columns, path)
    frame, lines = table_frame(table, date_column, names, freq, path)
    return frame, names, lines


def table_frame(
    table: pd.DataFrame, date_column: str, names: list[str], freq: str | None, where: str | Path
) -> tuple[pd.DataFrame, pd.Series]:
    """(frame, lines) of the rows of ``table`` (as `read_table` gives it, or some of its
    rows): the dates checked, the columns ``names`` as numbers, laid on the regular grid;
    ``where`` names them in messages."""
    dates = _parse_dates(table[date_column], date_column, where)
    _check_order(dates, table.index, where)
    values = _numbers(table[names], where).set_axis(dates)
    lines = pd.Series(table.index, index=dates)
    return _regular(values, _frequency(dates, freq, where), lines, where), lines


def parse_freq(freq: str) -> BaseOffset:
    """The pandas offset of ``freq``, which must step forward."""
    try:
        offset = to_offset(freq) if isinstance(freq, str) else None
    except ValueError as e:
        raise ValueError(f"freq {freq!r} is not a pandas frequency; give one {FREQ_HINT}") from e
    if offset is None or offset.n < 1:
        raise ValueError(f"freq must be a forward pandas frequency {FREQ_HINT}, got {freq!r}")
    return offset


def read_table(path: Path) -> pd.DataFrame:
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
    check_length(len(table), path)
    return table


def check_length(rows: int, where: str | Path, after: str = "") -> None:
    if rows < 3:
        raise ValueError(f"{where} has {rows} rows{after}; a series needs at least 3 dates")


def date_column_of(table: pd.DataFrame, date_column: str | None, path: Path) -> str:
    if date_column is None:
        return table.columns[0]
    if date_column not in table.columns:
        raise no_column(path, date_column, table.columns, what="date ")
    return date_column


def _parse_dates(text: pd.Series, column: str, path: str | Path) -> pd.DatetimeIndex:
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


def show_date(date: pd.Timestamp) -> str:
    """A date for a message: without its time at midnight."""
    return str(date.date()) if date == date.normalize() else str(date)


def _check_order(dates: pd.DatetimeIndex, lines: pd.Index, path: str | Path) -> None:
    """One row per date, in increasing order."""
    repeated = dates.duplicated()
    if repeated.any():
        i = repeated.argmax()
        first = int(np.flatnonzero(dates == dates[i])[0])
        raise ValueError(
            f"{path} lines {lines[first]} and {lines[i]} have the same date {show_date(dates[i])}; "
            "keep one row per date"
        )
    backwards = np.flatnonzero(dates[1:] < dates[:-1])
    if backwards.size:
        i = backwards[0] + 1
        raise ValueError(
            f"{path} line {lines[i]}: {show_date(dates[i])} comes before "
            f"{show_date(dates[i - 1])} on line {lines[i - 1]}; sort the file by date"
        )


def value_columns(
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


def _numbers(table: pd.DataFrame, path: str | Path) -> pd.DataFrame:
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


def _frequency(dates: pd.DatetimeIndex, freq: str | None, path: str | Path) -> BaseOffset:
    """``freq``, or the frequency the dates follow (pandas' inference, else trading days,
    else the step between at least 90% of consecutive dates)."""
    if freq is not None:
        return parse_freq(freq)
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
    values: pd.DataFrame, offset: BaseOffset, lines: pd.Series, path: str | Path
) -> pd.DataFrame:
    """``values`` on every date from its first to its last at ``offset``: dates the file
    lacks become rows of NaN. A date off that grid is an error."""
    dates = values.index
    grid = pd.date_range(dates[0], dates[-1], freq=offset, name="date")
    off = ~dates.isin(grid)
    if off.any():
        date = dates[off.argmax()]
        raise ValueError(
            f"{path} line {lines[date]}: {show_date(date)} is off the {offset.freqstr} grid "
            f"that starts at {show_date(offset.rollforward(dates[0]))}; give the right "
            "data.freq or fix it"
        )
    return values.reindex(grid)
