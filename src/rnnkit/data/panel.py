"""Many series from one file, a panel: each series read as a series of its own.

    panel = load_panel("sales.csv")             # long format: unique_id, ds, y
    panel = load_panel("macro.csv", wide=True)  # every value column a series
    panel["store_1"].frame                      # a SeriesData per series, by name

Long format is the convention of the forecasting libraries: one row per series and date,
a column naming the series (``unique_id`` unless ``id_column`` names another), one holding
the dates (``ds`` when there is one, else the first other column) and one the values
(``target``, else ``y``, else the only column left). Rows of one series may be anywhere in
the file; each series is checked, laid on its grid and has its missing values handled as
`rnnkit.data.series.load_series` does for a file, with messages that name the series and
the file's line. Wide: a date column and one value column per series (``columns``, default
all), each series starting where its column has values. All the series of a panel share one
frequency (given, or inferred from each).
"""

from __future__ import annotations

import csv
from pathlib import Path

from rnnkit.data.registry import parse_source
from rnnkit.data.series import SeriesData, check_options, series_data
from rnnkit.data.series_file import (
    date_column_of,
    read_series_file,
    read_table,
    table_frame,
    value_columns,
)
from rnnkit.data.tables import check_file, no_column

__all__ = ["ID_COLUMN", "is_long", "load_panel"]

ID_COLUMN = "unique_id"
GIVE = "a .csv or .tsv file with a column naming each row's series, or one value column a series"


def is_long(source: str | Path, id_column: str | None = None) -> bool:
    """Whether ``source`` is a long-format panel: ``id_column`` is set, or the file's header
    has a ``unique_id`` column. False for anything that is not a readable .csv/.tsv file
    (reading it later says what is wrong)."""
    if id_column is not None:
        return True
    path = Path(source).expanduser()
    if path.suffix.lower() not in (".csv", ".tsv") or not path.is_file():
        return False
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    except (OSError, UnicodeDecodeError, StopIteration, csv.Error):
        return False
    return ID_COLUMN in (cell.strip() for cell in header)


def load_panel(
    source: str | Path,
    wide: bool = False,
    id_column: str | None = None,
    target: str | None = None,
    columns: list[str] | None = None,
    date_column: str | None = None,
    freq: str | None = None,
    missing: str = "error",
    max_gap: int = 3,
    season: int | None = None,
) -> dict[str, SeriesData]:
    """The series of the panel file ``source``, by name, in the file's order: long format
    unless ``wide`` (then each of ``columns`` is a series, named by its column). The other
    arguments as `rnnkit.data.series.load_series` takes them."""
    check_options(missing, max_gap, season)
    if parse_source(source).form == "named":
        raise ValueError(f"{source} is a named data set of one series; a panel of many is read "
                         "from a .csv or .tsv file")  # fmt: skip
    path = check_file(source, (".csv", ".tsv"), GIVE)
    if wide:
        if target is not None:
            raise ValueError(
                "data.target names the one series to forecast; a wide panel "
                "forecasts each value column (choose them with data.columns)"
            )
        frame, names, lines = read_series_file(path, date_column, columns, freq)
        panel = {}
        for name in names:
            where = f"{path} column {name!r}"
            panel[name] = series_data(frame[[name]], name, lines, where, missing, max_gap, season)
    else:
        panel = _long(path, id_column, target, columns, date_column, freq, missing, max_gap,
                      season)  # fmt: skip
    _same_frequency(panel, path)
    return panel


def _long(
    path: Path, id_column: str | None, target: str | None, columns: list[str] | None,
    date_column: str | None, freq: str | None, missing: str, max_gap: int, season: int | None,
) -> dict[str, SeriesData]:  # fmt: skip
    if columns is not None:
        raise ValueError("data.columns chooses the series of a wide file; a long-format panel "
                         "reads one value column, named by data.target")  # fmt: skip
    table = read_table(path)
    ids = id_column or ID_COLUMN
    if ids not in table.columns:
        raise no_column(path, ids, table.columns, what="series id ")
    rest = table.drop(columns=ids)
    if date_column is None and "ds" in rest.columns:
        date_column = "ds"
    date_column = date_column_of(rest, date_column, path)
    if target is None and "y" in rest.columns:
        target = "y"
    names = value_columns(list(rest.columns), date_column, None if target is None else [target],
                          path)  # fmt: skip
    if len(names) > 1:
        listed = ", ".join(map(repr, names))
        raise ValueError(f"{path} has several value columns ({listed}); say which one holds "
                         "the values with data.target")  # fmt: skip
    names_of = table[ids].str.strip()
    if names_of.isna().any():
        line = names_of.index[names_of.isna().argmax()]
        raise ValueError(f"{path} line {line}: no series id in column {ids!r}; give every row one")
    panel = {}
    for name in names_of.unique():
        rows = rest[names_of == name]
        where = f"{path} series {name!r}"
        frame, lines = table_frame(rows, date_column, names, freq, where)
        frame.columns = [name]
        panel[name] = series_data(frame, name, lines, where, missing, max_gap, season)
    return panel


def _same_frequency(panel: dict[str, SeriesData], path: Path) -> None:
    """Refuse a panel whose series step at different frequencies."""
    first = next(iter(panel.values()))
    for series in panel.values():
        if series.freq != first.freq:
            raise ValueError(
                f"{path}: series {series.target!r} steps at {series.freq}, series "
                f"{first.target!r} at {first.freq}; the series of a panel share one frequency "
                "(give it with data.freq, or forecast them apart)"
            )
