"""Reading a panel: a long-format file (unique_id, ds, y) or a wide one, each series on its
own, every problem one line that names the series and the file's line."""

import numpy as np
import pytest

from rnnkit.data.panel import is_long, load_panel


def write(path, text):
    path.write_text(text)
    return path


LONG = """unique_id,ds,y
a,2020-01-01,1
a,2020-02-01,2
b,2020-03-01,50
a,2020-03-01,3
b,2020-04-01,60
b,2020-05-01,
b,2020-06-01,80
"""


def test_a_long_file_is_one_series_per_id_in_the_files_order(tmp_path):
    path = write(tmp_path / "p.csv", LONG)
    assert is_long(path) and not is_long(tmp_path / "absent.csv")
    panel = load_panel(path, missing="interpolate")
    assert list(panel) == ["a", "b"]
    np.testing.assert_array_equal(panel["a"].frame["a"], [1, 2, 3])
    np.testing.assert_array_equal(panel["b"].frame["b"], [50, 60, 70, 80])  # interpolated
    assert str(panel["b"].frame.index[0].date()) == "2020-03-01"  # its own start
    assert panel["a"].freq == panel["b"].freq == "MS" and panel["a"].season == 12
    assert panel["b"].filled == 1 and panel["a"].filled == 0


def test_other_column_names_are_chosen_by_the_settings(tmp_path):
    text = LONG.replace("unique_id,ds,y", "store,when,sales").replace(",\n", ",70\n")
    path = write(tmp_path / "p.csv", text)
    assert not is_long(path) and is_long(path, "store")
    panel = load_panel(path, id_column="store", date_column="when", target="sales")
    assert list(panel) == ["a", "b"] and len(panel["b"].frame) == 4
    # Without target, the only column besides the id and the date is the values.
    assert list(load_panel(path, id_column="store", date_column="when")) == ["a", "b"]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            LONG,
            "p.csv series 'b': no value for column 'b' on 2020-05-01 (line 7); choose "
            "data.missing=interpolate or ffill",
        ),
        (
            LONG.replace("a,2020-02-01", "a,2020-01-01"),
            "p.csv series 'a' lines 2 and 3 have the same date 2020-01-01",
        ),
        (
            LONG.replace("a,2020-03-01,3", ",2020-03-01,3"),
            "p.csv line 5: no series id in column 'unique_id'",
        ),
        (
            LONG.replace("b,2020-04-01", "b,2020-03-08")
            .replace("b,2020-05-01", "b,2020-03-15")
            .replace("b,2020-06-01", "b,2020-03-22")
            .replace(",\n", ",70\n"),
            "p.csv: series 'b' steps at W-SUN, series 'a' at MS; the series of a panel share "
            "one frequency",
        ),
        (
            "unique_id,ds,u,v\na,2020-01-01,1,2\na,2020-02-01,1,2\na,2020-03-01,1,2\n",
            "has several value columns ('u', 'v'); say which one holds the values with data.target",
        ),
    ],
)
def test_a_bad_long_file_is_one_line_naming_the_series_and_line(tmp_path, text, message):
    path = write(tmp_path / "p.csv", text)
    with pytest.raises(ValueError) as error:
        load_panel(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_wide_file_is_one_series_per_value_column(tmp_path):
    text = "date,x,y\n2020-01-01,,5\n2020-02-01,2,6\n2020-03-01,3,7\n2020-04-01,4,8\n"
    path = write(tmp_path / "w.csv", text)
    panel = load_panel(path, wide=True)
    assert list(panel) == ["x", "y"]
    assert len(panel["x"].frame) == 3 and len(panel["y"].frame) == 4  # x starts later
    assert list(load_panel(path, wide=True, columns=["y"])) == ["y"]
    with pytest.raises(ValueError, match="a wide panel forecasts each value column"):
        load_panel(path, wide=True, target="x")
    with pytest.raises(ValueError, match="long-format panel reads one value column"):
        load_panel(write(tmp_path / "p.csv", LONG), columns=["y"])
    with pytest.raises(ValueError, match=r"must be a \.csv/\.tsv file"):
        load_panel(write(tmp_path / "p.txt", LONG))
    with pytest.raises(ValueError, match="co2 is a named data set of one series; a panel"):
        load_panel("co2", wide=True)
