"""Files downloaded once into the cache folder, checked, and read offline from then on.

A `RemoteFile` says where a file comes from and what its bytes must be; `fetch` returns its
path in the cache folder (`default_cache_dir`), downloading it first when it is not there. A
download goes to a temporary file, is checked (size, sha256, or MD5 where the publisher only
gives that), and is renamed into place, so an interrupted or corrupted download never leaves a
file that looks complete. Without a network, the error says where to put the file by hand.

A digest is only recorded when it was verified against the real file, or is the one its
publisher gives: an invented digest would reject every genuine download. The named data sets
that use these files are declared in `rnnkit.data.registry`.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any, BinaryIO

from rnnkit import __version__
from rnnkit.io import atomic_path

__all__ = ["RemoteFile", "default_cache_dir", "download", "fetch", "open_url"]

TIMEOUT_S = 30.0  # per socket operation: a stalled server fails instead of hanging forever
CHUNK = 1 << 20
# Some hosts refuse urllib's default "Python-urllib/3.x" agent with 403 Forbidden.
USER_AGENT = f"rnnkit/{__version__}"


def default_cache_dir() -> Path:
    """The folder for downloads and cached extractions: ``$RNNKIT_CACHE`` or ``~/.cache/rnnkit``."""
    env = os.environ.get("RNNKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnkit"


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


def open_url(url: str, timeout: float = TIMEOUT_S) -> BinaryIO:
    """Open ``url`` for reading (the one place that touches the network; tests replace it)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    return urllib.request.urlopen(request, timeout=timeout)


def _no_network(name: str, remote: RemoteFile, path: Path, reason: object) -> ValueError:
    return ValueError(
        f"{name} needs a network connection once to download {remote.url} ({reason}); "
        f"to use it offline, put that file at {path}"
    )


def _digests(remote: RemoteFile) -> dict[str, Any]:
    """A running hash for each digest ``remote`` records, by name ("sha256", "md5")."""
    hashes = {"sha256": hashlib.sha256()}  # always: cheap next to the network
    if remote.md5 is not None:
        hashes["md5"] = hashlib.md5(usedforsecurity=False)  # allowed on FIPS systems
    return hashes


def _check(name: str, remote: RemoteFile, path: Path, size: int, digests: dict[str, str]) -> None:
    """Raise when the downloaded bytes are not the expected ones."""
    expected = {"sha256": remote.sha256, "md5": remote.md5}
    wrong = [kind for kind, want in expected.items() if want and digests[kind] != want.lower()]
    if remote.size is not None and size != remote.size:
        problem = f"{size} bytes, expected {remote.size}"
    elif wrong:
        problem = f"{wrong[0]} {digests[wrong[0]]}, expected {expected[wrong[0]]}"
    else:
        return
    raise ValueError(
        f"{name}: the download of {remote.url} has {problem}; nothing was saved; "
        f"try again later, or put a verified copy at {path}"
    )


def download(name: str, remote: RemoteFile, path: Path) -> None:
    """Fetch ``remote`` to ``path``: a temporary sibling, checked, then renamed into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(
            f"cannot create the cache folder {path.parent} ({e.strerror}); "
            "set RNNKIT_CACHE to a writable folder"
        ) from e
    try:
        response = open_url(remote.url)
    except (OSError, HTTPException) as e:  # URLError, timeouts and resets are OSErrors
        raise _no_network(name, remote, path, getattr(e, "reason", e)) from e
    hashes, size = _digests(remote), 0
    # A failed check raises inside atomic_path, which then removes the temporary file.
    with response, atomic_path(path) as tmp, open(tmp, "xb") as f:
        while True:
            try:
                chunk = response.read(CHUNK)
            except (OSError, HTTPException) as e:
                raise _no_network(name, remote, path, e) from e
            if not chunk:
                break
            f.write(chunk)
            for running in hashes.values():
                running.update(chunk)
            size += len(chunk)
        digests = {kind: running.hexdigest() for kind, running in hashes.items()}
        _check(name, remote, path, size, digests)


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
