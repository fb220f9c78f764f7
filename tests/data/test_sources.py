"""Text sources: the stdlib default, named corpora (no network), files, tables, SQLite, split."""

import contextlib
import dataclasses
import hashlib
import io
import re
import sqlite3
import urllib.error
import zipfile

import pytest

from rnnkit.data import corpora, remote
from rnnkit.data.registry import DATASETS, names
from rnnkit.data.sources import Document, load_documents, split_documents

DOWNLOADED = [name for name in names("text") if DATASETS[name].files]

# ---- the standard library's docstrings ----------------------------------------------------


@pytest.fixture(scope="module")
def stdlib_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("stdlib-cache")


@pytest.fixture(scope="module")
def stdlib_docs(stdlib_cache):
    return load_documents("stdlib", cache_dir=stdlib_cache)  # the one real extraction


def test_stdlib_is_large_sorted_and_names_real_definitions(stdlib_docs):
    assert sum(len(d.text) for d in stdlib_docs) > 100_000
    root = corpora.stdlib_root()
    files = [tuple(d.name.split(":")[1].split("/")) for d in stdlib_docs]
    assert files == sorted(files)
    assert not {"test", "tests", "idlelib", "site-packages"} & {p for f in files for p in f}
    for d in stdlib_docs[::50]:
        _, relative, *qualname = d.name.split(":")
        source = (root / relative).read_text(encoding="utf-8", errors="replace")
        if qualname:
            last = qualname[0].split(".")[-1]
            assert re.search(rf"\b(def|class)\s+{last}\b", source), d.name


def test_stdlib_second_load_reads_the_cache(stdlib_docs, stdlib_cache, monkeypatch):
    def extract(root):
        raise AssertionError("extracted again instead of reading the cache")

    monkeypatch.setattr(corpora, "extract_stdlib_docstrings", extract)
    assert load_documents("stdlib", cache_dir=stdlib_cache) == stdlib_docs


FAKE_STDLIB = {
    "b.py": '"""Module b."""\ndef f():\n    """F."""\n    def inner():\n        """Inner."""\n'
    'class C:\n    """C."""\n    async def m(self):\n'
    '        """\n        M, indented.\n        """\n',
    "a/__init__.py": 'if True:\n    def g():\n        """G under an if."""\ntry:\n    pass\n'
    'except ImportError:\n    def h():\n        """H in a handler."""\n'
    'else:\n    def k():\n        """K in else."""\n',
    "broken.py": 'def (:\n    """Unparsable."""\n',
    "test/test_b.py": '"""A test suite."""\n',
    "site-packages/pkg.py": '"""Third party."""\n',
    "idlelib/editor.py": '"""IDLE."""\n',
    "config-3.11-x86_64-linux-gnu/python-config.py": '"""Build."""\n',
}
FAKE_TEXTS = [
    ("stdlib:a/__init__.py:g", "G under an if."),
    ("stdlib:a/__init__.py:h", "H in a handler."),
    ("stdlib:a/__init__.py:k", "K in else."),
    ("stdlib:b.py", "Module b."),
    ("stdlib:b.py:f", "F."),
    ("stdlib:b.py:f.inner", "Inner."),
    ("stdlib:b.py:C", "C."),
    ("stdlib:b.py:C.m", "M, indented."),
    ("stdlib:cookie.py", "café"),
]


@pytest.fixture
def fake_stdlib(tmp_path, monkeypatch):
    root = tmp_path / "lib"
    for name, text in FAKE_STDLIB.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "cookie.py").write_bytes(b'# -*- coding: latin-1 -*-\n"""caf\xe9"""\n')
    (root / "latin.py").write_bytes(b'"""caf\xe9 without a coding line"""\n')
    monkeypatch.setattr(corpora, "stdlib_root", lambda: root)
    return root


def test_extraction_order_names_and_skipped_files(fake_stdlib):
    assert corpora.extract_stdlib_docstrings(fake_stdlib) == FAKE_TEXTS


@pytest.mark.parametrize("garbage", ["{not json", "[]", '{"format": 1, "texts": [[1, 2]]}'])
def test_corrupt_stdlib_cache_is_rebuilt(fake_stdlib, tmp_path, garbage):
    cache = tmp_path / "cache"
    first = load_documents("stdlib", cache_dir=cache)
    [path] = cache.iterdir()
    path.write_text(garbage)
    assert load_documents("stdlib", cache_dir=cache) == first == [Document(*t) for t in FAKE_TEXTS]
    assert path.read_text() != garbage


def test_unwritable_cache_warns_and_still_loads(fake_stdlib, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with pytest.warns(UserWarning, match="cannot cache the stdlib docstrings"):
        assert len(load_documents("stdlib", cache_dir=not_a_folder)) == len(FAKE_TEXTS)


# ---- files, folders and globs -------------------------------------------------------------


@pytest.fixture
def notes(tmp_path):
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "b.txt").write_bytes(b"beta\r\nline\r\n")
    (folder / "sub" / "a.md").write_bytes("\ufeffalpha".encode())
    (folder / "image.bin").write_bytes(b"\x89PNG\r\n\x00\x00")
    (folder / "latin.txt").write_bytes("café".encode("latin-1"))
    (folder / "blank.txt").write_text(" \n")
    (folder / ".git" / "config").write_text("hidden")
    return folder


def test_folder_reads_utf8_files_and_warns_about_the_rest(notes):
    with pytest.warns(
        UserWarning, match=r"2 files.*image\.bin \(binary\).*latin\.txt \(not UTF-8\)"
    ):
        documents = load_documents(str(notes))
    assert documents == [
        Document(f"{notes.as_posix()}/b.txt", "beta\nline\n"),
        Document(f"{notes.as_posix()}/sub/a.md", "alpha"),
    ]


@pytest.mark.parametrize(
    ("pattern", "names"), [("**/*.md", ["sub/a.md"]), ("b*.txt", ["b.txt"]), ("b.txt", ["b.txt"])]
)
def test_globs_and_single_files(notes, pattern, names):
    documents = load_documents(f"{notes}/{pattern}")  # b*.txt: blank.txt has no text
    assert [d.name for d in documents] == [f"{notes.as_posix()}/{n}" for n in names]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["image.bin", "latin.txt"], r"no text found in .*\(2 files skipped: .*image\.bin"),
        (["blank.txt"], r"has no text"),
        ([], r"is a folder with no files in it"),
    ],
)
def test_nothing_readable_is_an_error(notes, tmp_path, files, message):
    only = tmp_path / "only"
    only.mkdir()
    for name in files:
        (only / name).write_bytes((notes / name).read_bytes())
    with pytest.raises(ValueError, match=message):
        load_documents(str(only))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "nope.txt",
            r"unknown source 'nope\.txt': .*give one of stdlib, tiny-shakespeare, wikitext-2, or",
        ),
        ("missing/*.md", r"unknown source 'missing/\*\.md'"),
        ("sqlite:/x.db", r"write sqlite:///relative/path\.db or sqlite:////absolute"),
    ],
)
def test_unknown_source_says_what_is_accepted(tmp_path, monkeypatch, source, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message) as e:
        load_documents(source)
    assert "\n" not in str(e.value)


def test_options_a_source_ignores_are_warned_about(notes):
    with pytest.warns(UserWarning, match="column='text' only applies"):
        load_documents(f"{notes}/b.txt", column="text")


# ---- tables -------------------------------------------------------------------------------

TABLES = {
    "d.csv": 'id,text\n1,"hello, world"\n2,\n3,"two\nlines"\n',
    "d.tsv": 'id\ttext\n1\thello, world\n2\t\n3\t"two\nlines"\n',
    "d.jsonl": '{"id": 1, "text": "hello, world"}\n\n{"id": 2, "text": null}\n'
    '{"id": 3, "text": "two\\nlines"}\n{"id": 4}\n',
}
TABLE_NAMES = {
    "d.csv": ["row 1", "row 3"],
    "d.tsv": ["row 1", "row 3"],
    "d.jsonl": ["line 1", "line 4"],
}


@pytest.mark.parametrize("name", TABLES)
def test_table_rows_from_the_column(tmp_path, name):
    path = tmp_path / name
    path.write_text(TABLES[name], newline="")
    for column in ("text", None):  # "text" is the default column
        documents = load_documents(str(path), column=column)
        assert [d.text for d in documents] == ["hello, world", "two\nlines"]
        assert [d.name for d in documents] == [f"{path.as_posix()}:{n}" for n in TABLE_NAMES[name]]
    with pytest.raises(ValueError, match="no column 'body'; its columns are: id, text$"):
        load_documents(str(path), column="body")


def test_bad_jsonl_line_is_named(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "fine"}\n{"text": oops}\n')
    with pytest.raises(ValueError, match=r"d\.jsonl line 2 is not valid JSON"):
        load_documents(str(path))
    path.write_text('{"text": 3}\n')
    with pytest.raises(ValueError, match="line 1 holds a int, not text"):
        load_documents(str(path))


# ---- SQLite -------------------------------------------------------------------------------


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "q.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE queries (id INTEGER PRIMARY KEY, text TEXT)")
        db.execute('CREATE TABLE "my notes" (body TEXT)')
        rows = [(3, "third"), (1, "first"), (2, None), (5, "  ")]
        db.executemany("INSERT INTO queries VALUES (?, ?)", rows)
        db.execute('INSERT INTO "my notes" VALUES (?)', ("a note",))
        db.commit()
    return path


def test_sqlite_rows_in_rowid_order_without_writing(database, monkeypatch):
    before = database.read_bytes()
    documents = load_documents(f"sqlite:///{database}")  # absolute: four slashes
    assert documents == [
        Document(f"{database.as_posix()}:queries rowid 1", "first"),
        Document(f"{database.as_posix()}:queries rowid 3", "third"),
    ]
    monkeypatch.chdir(database.parent)
    for source in ("sqlite:///q.db", "q.db"):
        [note] = load_documents(source, table="my notes", column="body")
        assert note == Document("q.db:my notes rowid 1", "a note")
    assert database.read_bytes() == before
    assert [p.name for p in database.parent.iterdir()] == ["q.db"]


@pytest.mark.parametrize(
    ("table", "column", "message"),
    [
        ("nope", None, "has no table 'nope'; its tables are: my notes, queries$"),
        ("my notes", None, "table 'my notes' has no column 'text'; its columns are: body$"),
    ],
)
def test_sqlite_missing_table_or_column(database, table, column, message):
    with pytest.raises(ValueError, match=message):
        load_documents(f"sqlite:///{database}", table=table, column=column)


def test_sqlite_missing_file_is_an_error_and_is_not_created(tmp_path, notes):
    missing = tmp_path / "missing.db"
    with pytest.raises(ValueError, match="no SQLite database at .*missing.db"):
        load_documents(f"sqlite:///{missing}")
    assert not missing.exists()
    with pytest.raises(ValueError, match="cannot read .*b.txt as SQLite"):
        load_documents(f"sqlite:///{notes / 'b.txt'}")


# ---- named corpora (the network is never touched) -----------------------------------------

SPEECHES = "First Citizen:\nBefore we proceed.\n\nAll:\nSpeak, speak.\n"


def no_network(url, timeout=None):
    raise urllib.error.URLError("no network in tests")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(remote, "open_url", no_network)
    return tmp_path / "cache"


def test_tiny_shakespeare_from_a_placed_file(cache):
    cache.mkdir()
    (cache / "tiny-shakespeare.txt").write_text(SPEECHES)
    assert load_documents("tiny-shakespeare", offline=True) == [
        Document("tiny-shakespeare:line 1", "First Citizen:\nBefore we proceed."),
        Document("tiny-shakespeare:line 4", "All:\nSpeak, speak."),
    ]


def test_wikitext_from_a_placed_zip(cache):
    cache.mkdir()
    with zipfile.ZipFile(cache / "wikitext-2-raw-v1.zip", "w") as archive:
        archive.writestr(
            "wikitext-2-raw/wiki.train.raw",
            " \n = Alpha = \n \n Alpha text . \n = = Part = = \n More . \n = Beta = \n Beta . \n",
        )
        archive.writestr("wikitext-2-raw/wiki.valid.raw", " = Gamma = \n Gamma . \n")
        archive.writestr("wikitext-2-raw/wiki.test.raw", " = Delta = \n Delta . \n")
    documents = load_documents("wikitext-2")
    assert [d.name for d in documents] == [
        "wikitext-2:train:Alpha", "wikitext-2:train:Beta",
        "wikitext-2:valid:Gamma", "wikitext-2:test:Delta",
    ]  # fmt: skip
    assert documents[0].text == "= Alpha = \n \n Alpha text . \n = = Part = = \n More ."
    (cache / "wikitext-2-raw-v1.zip").write_text("not a zip")
    with pytest.raises(ValueError, match="is not a raw WikiText zip"):
        load_documents("wikitext-2")


@pytest.mark.parametrize("name", DOWNLOADED)
def test_corpus_without_network_says_where_to_put_it(cache, name):
    target = str(cache / DATASETS[name].remote.filename)
    for offline, message in [(False, "needs a network connection once"), (True, "offline is set")]:
        with pytest.raises(ValueError, match=message) as e:
            load_documents(name, offline=offline)
        assert target in str(e.value) and "\n" not in str(e.value)
    assert not list(cache.rglob("*"))


class Reset(io.BytesIO):
    def read(self, size=-1):
        raise ConnectionResetError("connection reset")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"tampered", "has sha256 [0-9a-f]{64}, expected"),
        (Reset(), "needs a network connection once"),
    ],
)
def test_bad_download_leaves_nothing_and_a_good_one_is_kept(cache, monkeypatch, body, message):
    good = SPEECHES.encode()
    shakespeare = DATASETS["tiny-shakespeare"]
    digest = hashlib.sha256(good).hexdigest()
    checked = dataclasses.replace(shakespeare.remote, size=None, sha256=digest)
    monkeypatch.setitem(
        DATASETS, "tiny-shakespeare", dataclasses.replace(shakespeare, files=(checked,))
    )
    stream = body if isinstance(body, io.IOBase) else io.BytesIO(body)
    monkeypatch.setattr(remote, "open_url", lambda url, timeout=None: stream)
    with pytest.raises(ValueError, match=message):
        load_documents("tiny-shakespeare")
    assert not list(cache.iterdir())
    monkeypatch.setattr(remote, "open_url", lambda url, timeout=None: io.BytesIO(good))
    assert len(load_documents("tiny-shakespeare")) == 2
    monkeypatch.setattr(remote, "open_url", no_network)  # cached: no network needed now
    assert len(load_documents("tiny-shakespeare")) == 2


def test_known_size_is_checked(cache, monkeypatch):
    monkeypatch.setattr(remote, "open_url", lambda url, timeout=None: io.BytesIO(b"short"))
    with pytest.raises(ValueError, match="has 5 bytes, expected 1115394; nothing was saved"):
        load_documents("tiny-shakespeare")
    assert not list(cache.iterdir())


# ---- the split ----------------------------------------------------------------------------


def test_split_sends_every_20th_document_to_test_and_the_one_before_to_validation():
    train, val, test = split_documents(range(45))
    assert test == [19, 39] and val == [18, 38]
    assert train == [i for i in range(45) if i not in (18, 19, 38, 39)]
    assert split_documents("abcde", every=5) == (["a", "b", "c"], ["d"], ["e"])
    with pytest.raises(ValueError, match="every must be an int of at least 3, got 2"):
        split_documents([], every=2)


def test_split_names_its_rule_and_keeps_official_parts():
    parts = split_documents(range(45))
    assert parts.rule == "i % 20" and parts.test == [19, 39] and parts.val == [18, 38]
    assert split_documents("abcde", every=5).rule == "i % 5"
    official = [Document("a", "a", split="train"), Document("b", "b", split="test")]
    official += [Document("c", "c", split="valid"), Document("d", "d", split="train")]
    parts = split_documents(official)
    assert parts.rule == "official"
    assert parts == ([official[0], official[3]], [official[2]], [official[1]])
    mixed = [*official, Document("e", "e")]  # one document without a part: the rule by position
    assert split_documents(mixed * 4).rule == "i % 20"


@pytest.mark.parametrize(
    "layout",
    [
        ("train.txt", "valid.txt", "test.txt"),
        ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),
        ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
    ],
)
def test_a_folder_with_an_official_split_keeps_it(tmp_path, layout):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, part in zip(layout, ("train", "valid", "test"), strict=True):
        (folder / name).write_text(f" = {part} = \n the {part} text . \n")
    documents = load_documents(str(folder))
    parts = split_documents(documents)
    assert parts.rule == "official"
    assert [[d.name for d in part] for part in parts] == [
        [f"{folder.as_posix()}/{name}"] for name in layout
    ]
    assert [d.split for d in documents] == ["train", "valid", "test"]
    assert parts.test[0].text == " = test = \n the test text . \n"
    (folder / "README").write_text("about")
    with pytest.warns(UserWarning, match=r"official split .*other files are not read: README"):
        assert load_documents(str(folder)) == documents


def test_an_ordinary_folder_keeps_the_rule_by_position(tmp_path):
    for i in range(40):
        (tmp_path / f"doc{i:02d}.txt").write_text(f"document {i}")
    (tmp_path / "train.txt").write_text("only one of the three official files")
    parts = split_documents(load_documents(str(tmp_path)))
    assert parts.rule == "i % 20" and len(parts.test) == len(parts.val) == 2


def test_wikitext_archive_gives_its_official_split(cache):
    cache.mkdir()
    with zipfile.ZipFile(cache / "wikitext-2-raw-v1.zip", "w") as archive:
        archive.writestr("wikitext-2-raw/wiki.train.raw", " = A = \n a . \n = B = \n b . \n")
        archive.writestr("wikitext-2-raw/wiki.valid.raw", " = C = \n c . \n")
        archive.writestr("wikitext-2-raw/wiki.test.raw", " = D = \n d . \n = E = \n e . \n")
    parts = split_documents(load_documents("wikitext-2"))
    assert parts.rule == "official"
    assert [[d.name.split(":")[-1] for d in part] for part in parts] == [
        ["A", "B"], ["C"], ["D", "E"]
    ]  # fmt: skip


def test_a_named_data_set_of_another_kind_is_refused():
    with pytest.raises(ValueError, match="'co2' is not a text data set; give one of stdlib"):
        load_documents("co2")
