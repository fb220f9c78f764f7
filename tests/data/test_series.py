"""Time series: bundled sources, CSV/TSV files on a regular grid, missing values, calendar
features and forecast dates. Every file is written here into tmp_path."""

import numpy as np
import pandas as pd
import pytest

from rnnkit.data.calendar import CALENDAR, calendar_features, future_index
from rnnkit.data.series import (
    SEASONS,
    fill_causal,
    load_series,
    season_of,
)

HEADER = "Date,Open,High,Low,Close,Volume"


def write(tmp_path, text, name="series.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def trading_days(skip=(), sep=","):
    """Business days from Mon 2024-01-01 to Fri 2024-01-19 as OHLCV rows, Close = 100 + k."""
    rows = [HEADER.replace(",", sep)]
    for k, day in enumerate(pd.bdate_range("2024-01-01", "2024-01-19")):
        if str(day.date()) not in skip:
            fields = [str(day.date()), *(f"{100 + k + d}" for d in (0.5, 1, -1, 0)), "1000"]
            rows.append(sep.join(fields))
    return "\n".join(rows) + "\n"


def dated(values, start="2024-01-01", freq="D", header="Date,Close"):
    """A two-column file: one date per value (a value of None is an empty cell)."""
    days = pd.date_range(start, periods=len(values), freq=freq)
    cells = ["" if v is None else str(v) for v in values]
    return "\n".join([header] + [f"{d},{v}" for d, v in zip(days, cells, strict=True)]) + "\n"


# ---- bundled series -------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, rows, freq, season, filled, target",
    [("co2", 2284, "W-SAT", 52, 59, "co2"), ("sunspots", 309, "YS-JAN", 11, 0, "sunactivity")],
)
def test_bundled_series_load_regular_and_complete(source, rows, freq, season, filled, target):
    data = load_series(source)
    frame = data.frame
    assert frame.shape == (rows, 1) and list(frame.columns) == [data.target] == [target]
    assert (data.freq, data.season, data.filled, data.source) == (freq, season, filled, source)
    assert frame.index.name == "date" and frame.index.freqstr == freq
    assert frame.dtypes.tolist() == [np.float64] and not frame.isna().to_numpy().any()


def test_co2_gaps_are_interpolated_linearly_even_beyond_max_gap():
    from statsmodels.datasets import co2

    raw = co2.load_pandas().data["co2"]
    data = load_series("co2", missing="error", max_gap=0)  # the user's settings do not apply
    np.testing.assert_allclose(data.frame["co2"].to_numpy(), raw.interpolate().to_numpy())
    assert data.frame.index[0] == pd.Timestamp("1958-03-29")


def test_sunspots_start_on_january_first_1700():
    frame = load_series("sunspots").frame
    assert frame.index[0] == pd.Timestamp("1700-01-01") and frame.index[-1].year == 2008
    assert frame["sunactivity"].iloc[0] == 5.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"date_column": "when"}, "bundled series .* date_column and freq are for"),
        ({"freq": "D"}, "bundled series with its own dates at W-SAT"),
        ({"target": "ppm"}, "target 'ppm' is not a value column of co2"),
        ({"columns": ["ppm"]}, "co2 has no column 'ppm'; its columns are: co2$"),
    ],
)
def test_bundled_series_reject_options_that_do_not_fit(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_series("co2", **kwargs)


def test_explicit_season_wins():
    assert load_series("co2", season=26, freq="W-SAT").season == 26


# ---- files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name, sep", [("prices.csv", ","), ("prices.tsv", "\t")])
def test_trading_days_load_with_close_as_target(tmp_path, name, sep):
    path = write(tmp_path, trading_days(sep=sep), name)
    data = load_series(path, target="Close")
    assert data.freq == "B" and data.season == 5 and data.target == "Close" and data.filled == 0
    assert list(data.frame.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert len(data.frame) == 15 and data.frame.index.freqstr == "B" and data.source == path
    assert data.frame["Close"].iloc[-1] == 114.0


def test_a_holiday_is_a_missing_step_filled_by_interpolation(tmp_path):
    path = write(tmp_path, trading_days(skip={"2024-01-15"}))  # Martin Luther King Day
    data = load_series(path, target="Close", missing="interpolate")
    assert data.freq == "B" and len(data.frame) == 15 and data.filled == 5  # one row, 5 columns
    assert data.frame.loc["2024-01-15", "Close"] == 110.0  # halfway between 109 and 111
    with pytest.raises(
        ValueError, match="'Open' on 2024-01-15.*missing from the file.*holiday.*ffill"
    ):
        load_series(path, target="Close")


@pytest.mark.parametrize(
    "missing, expected", [("interpolate", [1, 2, 3, 4, 5, 5]), ("ffill", [1, 1, 1, 4, 5, 5])]
)
def test_short_runs_are_filled_and_trailing_values_carried_forward(tmp_path, missing, expected):
    path = write(tmp_path, dated([1, None, "NA", 4, 5, " "]))  # empty, NA and blank: missing
    data = load_series(path, missing=missing, max_gap=2)
    assert data.frame["Close"].tolist() == expected and data.filled == 3
    assert data.frame.index.freqstr == "D"


@pytest.mark.parametrize("max_gap, ok", [(3, True), (2, False)])
def test_runs_longer_than_max_gap_are_an_error(tmp_path, max_gap, ok):
    path = write(tmp_path, dated([1, None, None, None, 5]))
    if ok:
        assert load_series(path, missing="interpolate", max_gap=max_gap).frame["Close"].iloc[2] == 3
        return
    match = r"'Close' is missing 3 steps in a row from 2024-01-02.*raise data.max_gap \(now 2\)"
    with pytest.raises(ValueError, match=match):
        load_series(path, missing="interpolate", max_gap=max_gap)


def test_rows_before_every_column_has_a_value_are_trimmed(tmp_path):
    text = "Date,A,B\n2024-01-01,,1\n2024-01-02,,2\n2024-01-03,3,3\n2024-01-04,4,\n2024-01-05,5,5\n"
    data = load_series(write(tmp_path, text), target="A", missing="interpolate")
    assert data.frame.index[0] == pd.Timestamp("2024-01-03") and data.frame.index.freq == "D"
    assert data.frame["B"].tolist() == [3, 4, 5] and data.filled == 1


def test_blank_lines_do_not_shift_line_numbers(tmp_path):
    path = write(tmp_path, "Date,Close\n2024-01-01,1\n\n2024-01-02,2\n2024-01-03,three\n\n")
    with pytest.raises(ValueError, match="line 5: column 'Close' has 'three'"):
        load_series(path)


@pytest.mark.parametrize(
    "values, freq, expected",
    [
        ([1, 2, 3, 4], "D", "D"),
        ([1, 2, 3, 4], "h", "h"),
        ([1, 2, 3, 4], "MS", "MS"),
        ([1, 2, 3, 4], "YS", "YS-JAN"),
        ([1, 2, 3, 4], "W-SAT", "W-SAT"),
    ],
)
def test_the_frequency_is_inferred_from_regular_dates(tmp_path, values, freq, expected):
    days = pd.date_range("2024-01-01", periods=len(values), freq=freq)
    text = "when,x\n" + "".join(f"{d},{v}\n" for d, v in zip(days, values, strict=True))
    data = load_series(write(tmp_path, text))
    assert data.freq == expected and data.season == season_of(expected)


@pytest.mark.parametrize(
    "step, skip, expected",
    [("D", 5, "D"), ("W-FRI", 3, "W-FRI"), ("7D", 3, "W-SUN")],  # 2024-01-07 is a Sunday
)
def test_the_common_step_is_the_frequency_when_a_date_is_missing(tmp_path, step, skip, expected):
    days = pd.date_range("2024-01-07", periods=20, freq=step).delete(skip)
    text = "Date,x\n" + "".join(f"{d.date()},{k}\n" for k, d in enumerate(days))
    data = load_series(write(tmp_path, text), missing="interpolate")
    assert data.freq == expected and len(data.frame) == 20 and data.filled == 1


def test_the_date_column_can_be_named(tmp_path):
    text = "x,when\n1,2024-01-01\n2,2024-01-02\n3,2024-01-03\n"
    data = load_series(write(tmp_path, text), date_column="when")
    assert data.target == "x" and data.frame.index[-1] == pd.Timestamp("2024-01-03")


def test_an_explicit_freq_adds_the_dates_the_file_lacks(tmp_path):
    path = write(tmp_path, dated([1, 2, 3, 4], freq="2D"))  # every other day
    data = load_series(path, freq="D", missing="interpolate", max_gap=1)
    assert data.frame["Close"].tolist() == [1, 1.5, 2, 2.5, 3, 3.5, 4] and data.filled == 3


# ---- errors: each names the file and the thing to fix ---------------------------------

ERRORS = [
    ("series.txt", dated([1, 2, 3]), {}, r"must be a \.csv/\.tsv file"),
    ("series.csv", "", {}, "is empty; it needs a header line"),
    ("series.csv", "Date,Close\n", {}, "has 0 rows"),
    ("series.csv", "Date,Close\n2024-01-01,1\n2024-01-02,2\n", {}, "has 2 rows"),
    (
        "series.csv",
        dated([1, 2, 3]),
        {"date_column": "When"},
        "no date column 'When'; its columns are: Date, Close$",
    ),
    ("series.csv", dated([1, 2]) + "soon,3\n", {}, "line 4: 'soon' is not a date"),
    ("series.csv", dated([1, 2]) + ",3\n", {}, "line 4: has no date"),
    ("series.csv", dated([1, 2, 3]) + "2024-01-02,4\n", {}, "lines 3 and 5 .* date 2024-01-02;"),
    (
        "series.csv",
        dated([1, 2, 3]) + "2023-12-31,4\n",
        {},
        "line 5: 2023-12-31 comes before 2024-01-03 on line 4; sort the file by date",
    ),
    ("series.csv", dated([1, "1,5", 3]), {}, "Expected 2 fields in line 3, saw 3; fix that line"),
    ("series.csv", dated(["1,1", "2,2", "3,3"]), {}, "more fields than its header line"),
    ("series.csv", dated([1, "x", 3]), {}, "line 3: column 'Close' has 'x'.*data.columns="),
    ("series.csv", dated([1, "inf", 3]), {}, "line 3: column 'Close' has 'inf'"),
    ("series.csv", dated([1, 2, 3]), {"columns": ["Price"]}, "no column 'Price'; its columns"),
    ("series.csv", dated([1, 2, 3]), {"columns": ["Date"]}, "'Date' is the date column"),
    ("series.csv", trading_days(), {}, "several value columns .*--target or data.target"),
    ("series.csv", trading_days(), {"columns": ["Close"], "target": "Open"}, "target 'Open' is"),
    (
        "series.csv",
        dated([1, 2, 3]),
        {"freq": "W-SAT"},
        "line 2: 2024-01-01 is off the W-SAT grid that starts at 2024-01-06",
    ),
    (
        "series.csv",
        dated([1, 2, 3, 4, 5], freq="h"),
        {"freq": "D"},
        "line 3: 2024-01-01 01:00:00 is off the D grid",
    ),
    ("series.csv", dated([1, None, 3]), {}, "'Close' on 2024-01-02 .*line 3.*missing=interp"),
    ("series.csv", dated([1, 2, 3, None]), {}, "'Close' on 2024-01-04 .*line 5"),
    ("series.csv", dated([None, None, None]), {}, "the target column 'Close' has no values"),
    (
        "series.csv",
        "Date,A,B\n" + "".join(f"2024-01-0{d},{d},\n" for d in (1, 2, 3)),
        {"target": "A"},
        "column 'B' has no values; leave it out",
    ),
    ("series.csv", dated([None, None, 3, 4]), {}, "has 2 rows once the rows before"),
]


@pytest.mark.parametrize("name, text, kwargs, match", ERRORS)
def test_file_errors_name_the_file_and_what_to_fix(tmp_path, name, text, kwargs, match):
    path = write(tmp_path, text, name)
    with pytest.raises(ValueError, match=match) as caught:
        load_series(path, **kwargs)
    assert path in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"freq": "fortnightly"}, "freq 'fortnightly' is not a pandas frequency; give one like D"),
        ({"freq": "M"}, "freq 'M' is not a pandas frequency"),  # pandas 3 spells it ME or MS
        ({"missing": "drop"}, "missing must be one of error, interpolate, ffill, got 'drop'"),
        ({"max_gap": -1}, "max_gap must be an int >= 0"),
        ({"season": 1}, "season must be an int >= 2"),
        ({"columns": "Close"}, r"columns must be a list of column names, e.g. \['Close'\]"),
    ],
)
def test_option_errors_say_what_is_expected(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_series(write(tmp_path, dated([1, 2, 3])), **kwargs)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file: .*nope.csv; give a .csv or .tsv"):
        load_series(str(tmp_path / "nope.csv"))


def test_irregular_dates_ask_for_the_frequency(tmp_path):
    days = ["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-07", "2024-01-11", "2024-01-16"]
    text = "Date,x\n" + "".join(f"{d},{k}\n" for k, d in enumerate(days))
    with pytest.raises(ValueError, match="cannot tell the frequency.*give it with data.freq="):
        load_series(write(tmp_path, text))


def test_mixed_time_zones_are_an_error(tmp_path):
    text = "Date,x\n2024-01-01T00:00+00:00,1\n2024-01-02T00:00+01:00,2\n2024-01-03T00:00+00:00,3\n"
    with pytest.raises(ValueError, match="do not parse together"):
        load_series(write(tmp_path, text))


# ---- seasons, calendar features, forecast dates ---------------------------------------


@pytest.mark.parametrize(
    "freq, season",
    [
        *[("h", 24), ("2h", 12), ("5h", None), ("D", 7), ("B", 5), ("W-SAT", 52), ("W", 52)],
        *[("MS", 12), ("ME", 12), ("QS", 4), ("QE-DEC", 4), ("YS-JAN", None), ("min", None)],
    ],
)
def test_season_of_a_frequency(freq, season):
    assert season_of(freq) == season


def test_seasons_of_the_common_frequencies():
    assert [SEASONS[p] for p in ("h", "D", "B", "W", "ME", "QS")] == [24, 7, 5, 52, 12, 4]
    assert not {"YS", "YE"} & set(SEASONS)


@pytest.mark.parametrize("freq", ["fortnightly", "-1D", None])
def test_season_of_a_bad_frequency_is_an_error(freq):
    with pytest.raises(ValueError, match="pandas frequency"):
        season_of(freq)


def test_calendar_features_are_bounded_periodic_pairs():
    index = pd.date_range("2023-12-25", periods=24 * 60, freq="h")  # 60 days, a new year
    features = calendar_features(index, CALENDAR)
    assert features.shape == (len(index), 2 * len(CALENDAR)) and features.dtype == np.float32
    assert np.abs(features).max() <= 1
    np.testing.assert_allclose(features[:, 0::2] ** 2 + features[:, 1::2] ** 2, 1, atol=1e-6)
    week = 24 * 7  # a week later: same hour, same day of week
    np.testing.assert_allclose(features[week:, :4], features[:-week, :4], atol=1e-5)
    monday = calendar_features(pd.DatetimeIndex(["2024-01-01"]), ["dayofweek", "month"])
    np.testing.assert_allclose(monday, [[0, 1, 0, 1]], atol=1e-7)  # the start of both cycles


def test_calendar_features_of_future_dates_continue_the_past():
    index = pd.date_range("2024-01-01", periods=40, freq="D")
    names = ["dayofweek", "dayofmonth", "dayofyear", "weekofyear"]
    past = calendar_features(index, names)
    future = calendar_features(future_index(index[29], "D", 10), names)
    np.testing.assert_array_equal(future, past[30:])


@pytest.mark.parametrize(
    "names, match",
    [(["weekday"], "unknown calendar feature 'weekday'.*dayofweek"), ("month", "list")],
)
def test_calendar_features_reject_unknown_names(names, match):
    with pytest.raises(ValueError, match=match):
        calendar_features(pd.date_range("2024-01-01", periods=3), names)


@pytest.mark.parametrize(
    "last, freq, expected",
    [
        ("2001-12-29", "W-SAT", ["2002-01-05", "2002-01-12", "2002-01-19"]),
        ("2024-01-05", "B", ["2024-01-08", "2024-01-09", "2024-01-10"]),  # Friday: skip weekend
        ("2024-01-31", "ME", ["2024-02-29", "2024-03-31", "2024-04-30"]),
        ("2008-01-01", "YS-JAN", ["2009-01-01", "2010-01-01", "2011-01-01"]),
    ],
)
def test_future_index_continues_the_grid(last, freq, expected):
    dates = future_index(pd.Timestamp(last), freq, 3)
    assert list(dates) == list(pd.DatetimeIndex(expected)) and dates.freqstr == freq


def test_future_index_after_a_loaded_series():
    data = load_series("co2")
    dates = future_index(data.frame.index[-1], data.freq, 52)
    grid = pd.date_range(data.frame.index[0], periods=len(data.frame) + 52, freq=data.freq)
    assert list(dates) == list(grid[-52:])


@pytest.mark.parametrize("horizon", [0, -1, 2.5, True])
def test_future_index_needs_a_positive_horizon(horizon):
    with pytest.raises(ValueError, match="horizon must be a positive int"):
        future_index(pd.Timestamp("2024-01-01"), "D", horizon)


@pytest.mark.parametrize("missing", ["interpolate", "ffill"])
def test_filling_causally_never_reads_past_the_cut(tmp_path, missing):
    values = [1, 2, None, None, None, 6, 7, None, 9]
    text = "date,x\n" + "".join(f"2024-01-0{i + 1},{'' if v is None else v}\n" for i, v in
                                enumerate(values))  # fmt: skip
    data = load_series(write(tmp_path, text), missing=missing, max_gap=3)
    assert data.frame["x"].tolist()[2:5] == ([3, 4, 5] if missing == "interpolate" else [2] * 3)
    causal = fill_causal(data, cut=4)["x"].tolist()
    # Rows 2, 3 are before the cut: filled from rows 0..3 only (the last value, 2); row 4 and
    # row 7 after it take the last value before them.
    assert causal == [1, 2, 2, 2, 2, 6, 7, 7, 9]
    assert fill_causal(data, cut=9)["x"].tolist() == data.frame["x"].tolist()


def test_a_named_data_set_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="'mnist' is not a series data set; give one of co2"):
        load_series("mnist")
