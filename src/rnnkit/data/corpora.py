"""Corpora made once and kept in the cache folder: the stdlib's docstrings and public downloads.

The cache folder (`default_cache_dir`) holds two kinds of corpus, both returned as
(document name, text) pairs that `rnnkit.data.sources` turns into documents:

- The standard library's docstrings (`stdlib_texts`), extracted from the running interpreter
  with `ast` and cached as JSON keyed by the Python version and the stdlib folder, because the
  extraction takes seconds and its result never changes for one interpreter.
- Public corpora (`CORPORA`): a registry entry says where the file comes from, what its bytes
  must be (when we know), and how it splits into documents. The first load downloads it to a
  temporary file, checks it, and renames it into place, so an interrupted or corrupted
  download never leaves a file that looks complete; later loads need no network. Without a
  network, a user can put the file at the path the error message names.

A digest is only recorded when it was verified against the real file, or is the one its
publisher gives: an invented digest would reject every genuine download. Entries whose digest is
unknown (None) are still checked for size when that is known, and are read defensively (a bad
archive is a clear error). `RemoteFile` and `fetch` serve other downloads the same way (the
MNIST and IMDB files of `rnnkit.data.labeled`), checked by sha256 or, where the publisher only
gives one, by MD5.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
import sysconfig
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, BinaryIO

from rnnkit import __version__
from rnnkit.io import atomic_path, atomic_write_json

TIMEOUT_S = 30.0  # per socket operation: a stalled server fails instead of hanging forever
CHUNK = 1 << 20
# Some hosts refuse urllib's default "Python-urllib/3.x" agent with 403 Forbidden.
USER_AGENT = f"rnnkit/{__version__}"

Texts = list[tuple[str, str]]  # (document name, text) pairs, in corpus order


def default_cache_dir() -> Path:
    """The folder for downloads and cached extractions: ``$RNNKIT_CACHE`` or ``~/.cache/rnnkit``."""
    env = os.environ.get("RNNKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnkit"


# ---- the standard library's docstrings ----------------------------------------------------

# Folders whose docstrings are not library documentation: third-party packages (they differ
# from machine to machine), bytecode, test suites (thousands of one-line "Test that ..."),
# IDLE (an application), lib2to3 (deprecated, with Python 2 test data) and turtle demos.
# Folders named config-* hold the interpreter's build configuration.
STDLIB_SKIPPED = frozenset(
    {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test", "idlelib"}
    | {"lib2to3", "turtledemo"}
)
_DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
# Statement fields that hold nested statements, in source order (try: body, except, else,
# finally), so a def under `if sys.platform == ...:` or `try:` is found where it is written.
_BLOCKS = ("body", "handlers", "orelse", "finalbody", "cases")
_CACHE_FORMAT = 1  # bump when the extraction rules change, so old caches are rebuilt


def stdlib_root() -> Path:
    """The running interpreter's standard library folder."""
    return Path(sysconfig.get_paths()["stdlib"])


def _stdlib_files(root: Path) -> list[Path]:
    """The .py files under ``root``, relative to it, sorted by path."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in STDLIB_SKIPPED and not d.startswith("config-")]
        base = Path(folder).relative_to(root)
        found += [base / name for name in files if name.endswith(".py")]
    return sorted(found, key=lambda p: p.parts)


def _parse(path: Path) -> ast.Module | None:
    """The syntax tree of ``path``, or None when it cannot be read, decoded or parsed."""
    try:
        source = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old escape sequences there are not ours to report
            return ast.parse(source, filename=str(path))  # bytes: honours coding cookies
    except (OSError, SyntaxError, ValueError):  # ValueError: NUL bytes, bad encoding
        return None


def _docstrings(node: ast.AST, prefix: str, qualname: str = "") -> Iterator[tuple[str, str]]:
    """(name, docstring) of every class and function under ``node``, in source order."""
    for field in _BLOCKS:
        children = getattr(node, field, None)
        for child in children if isinstance(children, list) else ():
            if isinstance(child, _DEFINITIONS):
                name = f"{qualname}.{child.name}" if qualname else child.name
                doc = ast.get_docstring(child)  # cleaned: indentation removed (inspect.cleandoc)
                if doc:
                    yield f"{prefix}:{name}", doc
                yield from _docstrings(child, prefix, name)
            elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                yield from _docstrings(child, prefix, qualname)


def extract_stdlib_docstrings(root: Path) -> Texts:
    """Docstrings under ``root``: files sorted by relative path, then in source order.

    The module docstring comes first, named ``stdlib:json/decoder.py``; a definition is named
    by its dotted path, ``stdlib:json/decoder.py:JSONDecoder.decode`` (a nested function as
    ``outer.inner``). Files that cannot be decoded or parsed are skipped, and so are the
    folders in `STDLIB_SKIPPED` and ``config-*``.
    """
    texts: Texts = []
    for relative in _stdlib_files(root):
        tree = _parse(root / relative)
        if tree is None:
            continue
        prefix = f"stdlib:{relative.as_posix()}"
        module_doc = ast.get_docstring(tree)
        if module_doc:
            texts.append((prefix, module_doc))
        texts += _docstrings(tree, prefix)
    return texts


def _stdlib_cache_path(cache: Path, root: Path) -> Path:
    where = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    version = ".".join(map(str, sys.version_info[:3]))
    return cache / f"stdlib-docstrings-{sys.implementation.name}-{version}-{where}.json"


def _read_cache(path: Path) -> Texts | None:
    """The cached texts, or None when the cache is missing, stale or corrupt."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["format"] != _CACHE_FORMAT:
            return None
        texts = [(name, text) for name, text in data["texts"]]
    except (OSError, ValueError, KeyError, TypeError):  # ValueError: bad JSON or UTF-8
        return None
    if all(isinstance(name, str) and isinstance(text, str) for name, text in texts):
        return texts
    return None


def stdlib_texts(cache: Path) -> Texts:
    """`extract_stdlib_docstrings` of `stdlib_root`, cached as JSON in the folder ``cache``.

    The cache file is keyed by the Python version and the stdlib folder; a corrupt one is
    rebuilt, and a cache folder that cannot be written only costs the extraction each time.
    """
    root = stdlib_root()
    path = _stdlib_cache_path(cache, root)
    texts = _read_cache(path)
    if texts is not None:
        return texts
    texts = extract_stdlib_docstrings(root)
    record = {"format": _CACHE_FORMAT, "python": sys.version, "stdlib": str(root), "texts": texts}
    try:
        cache.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, record)
    except OSError as e:
        warnings.warn(
            f"cannot cache the stdlib docstrings in {cache} ({e.strerror}); "
            "set RNNKIT_CACHE to a writable folder to skip the extraction next time",
            stacklevel=3,
        )
    return texts


# ---- public corpora ------------------------------------------------------------------------


def _paragraphs(text: str, prefix: str) -> Texts:
    """Blocks of non-blank lines (one speech of a play), each named by its first line number."""
    out: Texts = []
    block: list[str] = []
    start = 0
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        if line.strip():
            start = start if block else number
            block.append(line)
        elif block:
            out.append((f"{prefix}:line {start}", "\n".join(block)))
            block = []
    return out


def read_tiny_shakespeare(path: Path) -> Texts:
    """One document per speech (speaker line and verse, separated by blank lines)."""
    return _paragraphs(path.read_text(encoding="utf-8"), "tiny-shakespeare")


# A top-level WikiText heading is " = Title = "; sections are " = = Section = = ".
_ARTICLE_HEADING = re.compile(r"\s*= (?!=)(.*?) =\s*")


def _articles(text: str, prefix: str) -> Texts:
    """Split raw WikiText at its article headings; text before the first heading is dropped."""
    out: Texts = []
    title, lines = None, []
    for line in [*text.splitlines(), " = <end> = "]:
        match = _ARTICLE_HEADING.fullmatch(line)
        if match:
            if title is not None:
                out.append((f"{prefix}:{title}", "\n".join(lines).strip()))
            title, lines = match.group(1), []
        lines.append(line)
    return out


def read_wikitext(path: Path, corpus: str = "wikitext-2") -> Texts:
    """The train, valid and test files of a raw WikiText zip, in that order, split by article.

    Document names keep the official part (``wikitext-2:valid:Title``); `split_documents`
    re-splits all articles by position, so results are not comparable with published ones.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            out: Texts = []
            for part in ("train", "valid", "test"):
                member = next((m for m in members if m.endswith(f"wiki.{part}.raw")), None)
                if member is None:
                    raise ValueError(
                        f"{path} holds no wiki.{part}.raw; delete it so it is downloaded again"
                    )
                text = archive.read(member).decode("utf-8")
                out += _articles(text, f"{corpus}:{part}")
    except (zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a raw WikiText zip ({e}); delete it and retry") from e
    return out


@dataclass(frozen=True)
class RemoteFile:
    """A file downloaded once into the cache: its URL, its name there, and what it must be."""

    url: str
    filename: str  # under the cache folder
    sha256: str | None = None  # hex digest of the file; None: not verified by us yet
    # MD5 is no defence against tampering, but it is the only digest some publishers give
    # (MNIST, IMDB); it still catches truncated and corrupted downloads.
    md5: str | None = None
    size: int | None = None  # bytes; None: unknown


@dataclass(frozen=True, kw_only=True)
class Corpus(RemoteFile):
    """A public corpus: a `RemoteFile` and how to read it as documents."""

    read: Callable[[Path], Texts]


CORPORA: dict[str, Corpus] = {
    # Karpathy's char-rnn Shakespeare: 1,115,394 ASCII characters (so bytes), the length
    # char-rnn and nanoGPT runs print; its digest was never verified here, so it is not given.
    "tiny-shakespeare": Corpus(
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        filename="tiny-shakespeare.txt",
        read=read_tiny_shakespeare,
        size=1_115_394,
    ),
    # Merity et al.'s raw WikiText-2 (CC BY-SA 3.0) from the first author's own site: the
    # original research.metamind.io S3 address is reported to refuse downloads now.
    "wikitext-2": Corpus(
        url="https://wikitext.smerity.com/wikitext-2-raw-v1.zip",
        filename="wikitext-2-raw-v1.zip",
        read=read_wikitext,
    ),
}


def open_url(url: str, timeout: float = TIMEOUT_S) -> BinaryIO:
    """Open ``url`` for reading (the one place that touches the network; tests replace it)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    return urllib.request.urlopen(request, timeout=timeout)


def _no_network(name: str, corpus: RemoteFile, path: Path, reason: object) -> ValueError:
    return ValueError(
        f"{name} needs a network connection once to download {corpus.url} ({reason}); "
        f"to use it offline, put that file at {path}"
    )


def _digests(corpus: RemoteFile) -> dict[str, Any]:
    """A running hash for each digest ``corpus`` records, by name ("sha256", "md5")."""
    hashes = {"sha256": hashlib.sha256()}  # always: cheap next to the network
    if corpus.md5 is not None:
        hashes["md5"] = hashlib.md5(usedforsecurity=False)  # allowed on FIPS systems
    return hashes


def _check(name: str, corpus: RemoteFile, path: Path, size: int, digests: dict[str, str]) -> None:
    """Raise when the downloaded bytes are not the expected ones."""
    expected = {"sha256": corpus.sha256, "md5": corpus.md5}
    wrong = [kind for kind, want in expected.items() if want and digests[kind] != want.lower()]
    if corpus.size is not None and size != corpus.size:
        problem = f"{size} bytes, expected {corpus.size}"
    elif wrong:
        problem = f"{wrong[0]} {digests[wrong[0]]}, expected {expected[wrong[0]]}"
    else:
        return
    raise ValueError(
        f"{name}: the download of {corpus.url} has {problem}; nothing was saved; "
        f"try again later, or put a verified copy at {path}"
    )


def download(name: str, corpus: RemoteFile, path: Path) -> None:
    """Fetch ``corpus`` to ``path``: a temporary sibling, checked, then renamed into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(
            f"cannot create the cache folder {path.parent} ({e.strerror}); "
            "set RNNKIT_CACHE to a writable folder"
        ) from e
    try:
        response = open_url(corpus.url)
    except (OSError, HTTPException) as e:  # URLError, timeouts and resets are OSErrors
        raise _no_network(name, corpus, path, getattr(e, "reason", e)) from e
    hashes, size = _digests(corpus), 0
    # A failed check raises inside atomic_path, which then removes the temporary file.
    with response, atomic_path(path) as tmp, open(tmp, "xb") as f:
        while True:
            try:
                chunk = response.read(CHUNK)
            except (OSError, HTTPException) as e:
                raise _no_network(name, corpus, path, e) from e
            if not chunk:
                break
            f.write(chunk)
            for running in hashes.values():
                running.update(chunk)
            size += len(chunk)
        digests = {kind: running.hexdigest() for kind, running in hashes.items()}
        _check(name, corpus, path, size, digests)


def fetch(name: str, remote: RemoteFile, cache_dir: Path, *, offline: bool = False) -> Path:
    """The path of ``remote`` in ``cache_dir``, downloading it first unless it is there.

    ``name`` names the data set in messages. ``offline=True`` makes a missing file an error
    that says where to put it, instead of a download.
    """
    path = cache_dir / remote.filename
    if not path.is_file():
        if offline:
            raise ValueError(
                f"{name} is not downloaded yet and offline is set; run once with a network "
                f"connection, or put {remote.url} at {path}"
            )
        download(name, remote, path)
    return path


def corpus_texts(name: str, cache_dir: Path, *, offline: bool = False) -> Texts:
    """The documents of the named corpus, downloading its file first unless it is cached."""
    corpus = CORPORA[name]
    return corpus.read(fetch(name, corpus, cache_dir, offline=offline))
