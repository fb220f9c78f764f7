"""Text corpora: the stdlib's docstrings, extracted once, and the downloaded public corpora.

Both are returned as (document name, text) pairs, or (name, text, split) triples where the
corpus has an official split, that `rnnkit.data.sources` turns into documents:

- The standard library's docstrings (`stdlib_texts`), extracted from the running interpreter
  with `ast` and cached as JSON keyed by the Python version and the stdlib folder, because the
  extraction takes seconds and its result never changes for one interpreter.
- Public corpora (`corpus_texts`): the text data sets of `rnnkit.data.registry`, downloaded
  once into the cache folder by `rnnkit.data.remote.fetch`, then read by their ``layout``
  (`READERS`). Files are read defensively: a bad archive is a clear error.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
import sysconfig
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from rnnkit.data.registry import dataset
from rnnkit.data.remote import default_cache_dir, fetch
from rnnkit.data.tables import read_text
from rnnkit.io import atomic_write_json

__all__ = [
    "READERS",
    "SPLITS",
    "corpus_texts",
    "default_cache_dir",
    "extract_stdlib_docstrings",
    "read_tiny_shakespeare",
    "read_wikitext",
    "stdlib_texts",
]

Texts = list[tuple[str, str]]  # (document name, text) pairs, in corpus order
Parts = list[tuple[str, str, str | None]]  # (name, text, official split or None)
SPLITS = ("train", "valid", "test")  # the official parts, named as WikiText and PTB name them


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


def read_tiny_shakespeare(path: Path) -> Parts:
    """One document per speech (speaker line and verse, separated by blank lines)."""
    texts = _paragraphs(read_text(path), "tiny-shakespeare")
    return [(name, text, None) for name, text in texts]


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


def read_wikitext(path: Path, corpus: str = "wikitext-2") -> Parts:
    """The train, valid and test files of a raw WikiText zip, in that order, split by article.

    Each article carries its official part ("train", "valid", "test"), which
    `split_documents` keeps, so scores are comparable with published ones; names say it too
    (``wikitext-2:valid:Title``).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            out: Parts = []
            for part in SPLITS:
                member = next((m for m in members if m.endswith(f"wiki.{part}.raw")), None)
                if member is None:
                    raise ValueError(
                        f"{path} holds no wiki.{part}.raw; delete it so it is downloaded again"
                    )
                text = archive.read(member).decode("utf-8")
                out += [(n, t, part) for n, t in _articles(text, f"{corpus}:{part}")]
    except (zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a raw WikiText zip ({e}); delete it and retry") from e
    return out


# How each layout of a text data set reads (see `rnnkit.data.registry.DataSet.layout`).
READERS: dict[str, Callable[[Path], Parts]] = {
    "paragraphs": read_tiny_shakespeare,
    "wikitext": read_wikitext,
}


def corpus_texts(name: str, cache_dir: Path, *, offline: bool = False) -> Parts:
    """The documents of the named text corpus, downloading its file first unless cached."""
    corpus = dataset(name, "text")
    return READERS[corpus.layout](fetch(name, corpus.remote, cache_dir, offline=offline))
