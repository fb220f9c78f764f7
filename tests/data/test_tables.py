"""The one table reader: CSV/TSV/JSONL rows with their line numbers, UTF-8 checks, errors."""

import csv

import pytest

from rnnkit.data.tables import NoSuchFile, NotText, Row, check_file, read_table, read_text


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("t.csv", '\ufeffid,text\n1,"a, b"\n\n2,"two\nlines"\n3,c\n'),
        ("t.tsv", 'id\ttext\n1\ta, b\n\n2\t"two\nlines"\n3\tc\n'),
        ("t.csv", 'id,text\r\n1,"a, b"\r\n\r\n2,"two\r\nlines"\r\n3,c\r\n'),
    ],
)
def test_rows_carry_the_line_they_start_on(tmp_path, name, content):
    table = read_table(write(tmp_path, name, content))
    assert table.columns == ["id", "text"] and table.header_line == 1
    assert [row.line for row in table.rows] == [2, 4, 6]
    assert [row.get("text").replace("\r\n", "\n") for row in table.rows] == [
        "a, b",
        "two\nlines",
        "c",
    ]
    assert table.rows[0].fields == ("1", "a, b")


def test_short_and_long_csv_rows_keep_their_fields(tmp_path):
    table = read_table(write(tmp_path, "t.csv", "a,b\n1\n1,2,3\n"))
    assert table.rows == [Row(2, {"a": "1"}, ("1",)), Row(3, {"a": "1", "b": "2"}, ("1", "2", "3"))]
    assert table.rows[0].get("b") is None


def test_jsonl_columns_are_every_key_in_order_of_first_appearance(tmp_path):
    path = write(tmp_path, "t.jsonl", '{"b": 1}\n\n{"a": "x\u2028y", "b": 2}\n')
    table = read_table(path)
    assert table.columns == ["b", "a"] and table.jsonl and table.header_line == 0
    assert [(row.line, row.record) for row in table.rows] == [
        (1, {"b": 1}),
        (3, {"a": "x\u2028y", "b": 2}),
    ]


def test_empty_files_are_tables_without_rows(tmp_path):
    for name in ("e.csv", "e.jsonl"):
        table = read_table(write(tmp_path, name, ""))
        assert table.columns == [] and table.rows == []
        with pytest.raises(ValueError, match=f"{name} has no rows; it needs a header"):
            table.require_rows()


def test_column_lookup_lists_the_columns(tmp_path):
    table = read_table(write(tmp_path, "t.csv", "id,my text, padded ,\n1,2,3,4\n"))
    table.require("id", "my text")
    with pytest.raises(ValueError) as e:
        table.require("id", "text")
    assert str(e.value) == (
        f"{table.path} has no column 'text'; its columns are: id, my text, ' padded ', ''"
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("q.csv", 'a,b\n1,2\n3,"open\n4,5\n', r"q\.csv line 3: a quoted cell opened on this line"),
        ("q.csv", 'a,b\n1,"x', r"q\.csv line 2: a quoted cell opened on this line is never closed"),
        ("q.tsv", 'a\tb\n"x\t1\n', r"q\.tsv line 2: a quoted cell .* never closed"),
        ("d.csv", "a,b,a\n1,2,3\n", r"d\.csv line 1: the header names the column 'a' twice"),
        ("b.csv", b"a,b\n\x00\x01\n", r"b\.csv is a binary file \(it holds NUL bytes\)"),
        ("l.csv", "a\ncaf\xe9\n".encode("latin-1"), r"l\.csv is not UTF-8 text \(byte 5\)"),
        ("j.jsonl", '{"a": 1}\n{"a": oops}\n', r"j\.jsonl line 2 is not valid JSON"),
        ("j.jsonl", '{"a": 1}\n\n"text"\n', r"j\.jsonl line 3 is a JSON str, not an object"),
        ("t.txt", "a\n", r"t\.txt must be a \.csv/\.tsv/\.jsonl file \(by its name's ending\)"),
    ],
)
def test_bad_files_are_one_line_errors_naming_file_and_line(tmp_path, name, content, message):
    with pytest.raises(ValueError, match=message) as e:
        read_table(write(tmp_path, name, content))
    assert "\n" not in str(e.value)


def test_a_quote_after_a_closed_quote_is_kept_as_before(tmp_path):
    # The lenient reader keeps text after a closing quote; only an unclosed one is an error.
    table = read_table(write(tmp_path, "t.csv", 'a,b\n"x"y,1\nz,2\n'))
    assert [row.get("a") for row in table.rows] == ["xy", "z"]


def test_a_field_past_the_csv_limit_suggests_a_lost_quote(tmp_path, monkeypatch):
    limit = csv.field_size_limit()
    csv.field_size_limit(50)
    try:
        path = write(tmp_path, "t.csv", 'a,b\n1,"' + "x" * 60 + "\n" * 3)
        with pytest.raises(ValueError, match="t.csv line 2: .*most often a quote that is never"):
            read_table(path)
    finally:
        csv.field_size_limit(limit)


def test_missing_files_folders_and_text(tmp_path):
    with pytest.raises(NoSuchFile, match="no such file: .*nope.csv; check the path"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="no such file: .*; give a .csv file"):
        check_file(tmp_path / "nope.csv", give="a .csv file")
    with pytest.raises(ValueError, match="is a folder; give a .csv/.tsv/.jsonl file"):
        check_file(tmp_path, (".csv", ".tsv", ".jsonl"))
    with pytest.raises(NotText) as e:
        read_text(write(tmp_path, "u16.txt", "hi".encode("utf-16")))
    assert e.value.reason == "binary"
    assert read_text(write(tmp_path, "bom.txt", "\ufeffhi\r\n")) == "hi\r\n"
