"""Paired data: Tatoeba/Anki tab files, CSV/TSV/JSONL columns, de-duplication, the split."""

import pytest
from test_tables import write

from rnnkit.data.paired import Pair, load_pairs, split_key, split_pairs

ANKI = (
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)\n"
    'He said "hi".\tIl a dit « salut ».\n'
    "\n"
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: the same pair again\n"
    "Go.\tMarche.\n"
)


@pytest.mark.parametrize("name", ["fra.txt", "fra.tsv"])
def test_tatoeba_anki_layout_ignores_extra_columns_and_repeats(tmp_path, name):
    pairs = load_pairs(write(tmp_path, name, ANKI))
    assert pairs == [
        Pair("Go.", "Va !"),
        Pair('He said "hi".', "Il a dit « salut »."),  # quotes are text, not CSV quoting
        Pair("Go.", "Marche."),
    ]
    assert len(load_pairs(tmp_path / name, dedupe=False)) == 4


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("p.csv", '\ufeffid,en,fr\n1,"Hello, you.",Salut.\n2,Go.,"Va !"\n'),
        ("p.tsv", "id\ten\tfr\n1\tHello, you.\tSalut.\n2\tGo.\tVa !\n"),
        ("p.jsonl", '{"en": "Hello, you.", "fr": "Salut."}\n\n{"fr": "Va !", "en": "Go."}\n'),
    ],
)
def test_named_columns_of_csv_tsv_jsonl(tmp_path, name, content):
    pairs = load_pairs(write(tmp_path, name, content), source_column="en", target_column="fr")
    assert pairs == [Pair("Hello, you.", "Salut."), Pair("Go.", "Va !")]


def test_default_columns_are_source_and_target(tmp_path):
    path = write(tmp_path, "p.csv", "target,source\nbonjour,hello\n")
    assert load_pairs(path) == [Pair("hello", "bonjour")]


@pytest.mark.parametrize(
    ("name", "content", "columns", "message"),
    [
        ("p.txt", "", {}, r"p\.txt has no pairs"),
        ("p.txt", "\n \n", {}, r"p\.txt has no pairs"),
        ("p.csv", "", {}, r"p\.csv has no column 'source'; its columns are: \(none\)$"),
        ("p.csv", "source,target\n", {}, r"p\.csv has no pairs"),
        ("p.txt", "Go.\tVa !\nHello.\n", {}, r"p\.txt line 2 has one column; a pair needs"),
        ("p.tsv", "Go.\tVa !\n\nHi\n", {}, r"p\.tsv line 3 has one column"),
        ("p.txt", "Go.\t \n", {}, r"p\.txt line 1: empty target"),
        (
            "p.txt",
            "Go.\tVa\n",
            {"source_column": "en"},
            r"p\.txt is a \.txt file .* without a header",
        ),
        (
            "p.csv",
            "en,de\nGo.,Geh.\n",
            {"source_column": "en", "target_column": "fr"},
            r"p\.csv has no column 'fr'; its columns are: en, de$",
        ),
        ("p.csv", "source,target\nGo.\n", {}, r"p\.csv line 2: no target$"),
        ("p.jsonl", '{"source": "a", "target": "b"}\n{"source": "c"}\n', {}, r"line 2: no target"),
        ("p.jsonl", '{"source": 1, "target": "b"}\n', {}, r"line 1: the source .* JSON int"),
        (
            "p.jsonl",
            '{"en": "a", "fr": ""}\n',
            {"source_column": "en", "target_column": "fr"},
            r"p\.jsonl line 1: empty target \(column 'fr'\)$",
        ),
        ("p.csv", 'source,target\nGo.,"Va\n', {}, r"p\.csv line 2: a quoted cell .* never closed"),
        ("p.txt", b"Go.\tVa\n\xff\n", {}, r"p\.txt is not UTF-8 text \(byte 7\)"),
        ("p.xml", "<pairs/>", {}, r"p\.xml must be a \.txt/\.tsv/\.csv/\.jsonl file"),
    ],
)
def test_bad_inputs_are_one_line_errors_naming_file_and_line(
    tmp_path, name, content, columns, message
):
    with pytest.raises(ValueError, match=message) as e:
        load_pairs(write(tmp_path, name, content), **columns)
    assert "\n" not in str(e.value)


def test_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file: .*nope.txt"):
        load_pairs(tmp_path / "nope.txt")


def test_split_is_by_source_so_no_sentence_is_on_two_sides():
    pairs = [Pair(f"sentence {i}", f"phrase {i} {k}") for i in range(2000) for k in range(3)]
    pairs.append(Pair("  SENTENCE   7 ", "casing and spacing aside, the same sentence"))
    train, val, test = split_pairs(pairs, val_fraction=0.1, test_fraction=0.2)
    assert len(train) + len(val) + len(test) == len(pairs)
    sides = [{" ".join(p.source.split()).casefold() for p in part} for part in (train, val, test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert abs(len(test) / len(pairs) - 0.2) < 0.03 and abs(len(val) / len(pairs) - 0.1) < 0.03
    assert train == [p for p in pairs if p in set(train)]  # file order kept
    assert split_pairs(pairs, 0.1, 0.2) == (train, val, test)  # deterministic


def test_split_key_is_fixed_across_runs_and_machines():
    # SHA-256, not Python's salted hash(): these values never change.
    assert split_key("Go.") == split_key(" go. ") == pytest.approx(0.27335442838833)
    assert split_key("Hello.") == pytest.approx(0.08413085971247)


@pytest.mark.parametrize(
    ("val", "test", "message"),
    [
        (-0.1, 0.1, "val_fraction must be a number in \\[0, 1\\), got -0.1"),
        (0.1, 1, "test_fraction must be a number in \\[0, 1\\), got 1"),
        (0.5, 0.5, "val_fraction \\+ test_fraction must be below 1"),
        (True, 0.1, "val_fraction must be a number"),
    ],
)
def test_split_fractions_are_checked(val, test, message):
    with pytest.raises(ValueError, match=message):
        split_pairs([Pair("a", "b")], val, test)
