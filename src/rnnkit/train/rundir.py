"""Run directories: the unit a user keeps, created whole or not at all.

Layout of ``runs/NAME/``::

    config.json          the run configuration (written by `create_run_dir`)
    model.safetensors    the trained weights (`rnnkit.io.save_weights`)
    vocab.json, ...      the task's own JSON artefacts (named by the task: rnnkit.tasks)
    metrics.jsonl        one JSON record per logged step, evaluation and epoch
    loss.png, ...        plots
    checkpoint/          full training state for resuming (`rnnkit.train.checkpoint`)
    .lock                held by the process training the run (`run_lock`), with its PID
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded there
    fcntl = None  # type: ignore[assignment]

from rnnkit.io import atomic_write_text, fsync_dir, json_text


@dataclass(frozen=True)
class RunDir:
    """The standard file paths inside the run directory ``path``."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def weights(self) -> Path:
        return self.path / "model.safetensors"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def results(self) -> Path:
        return self.path / "results.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoint"

    @property
    def lock(self) -> Path:
        return self.path / ".lock"

    def plot(self, name: str) -> Path:
        """``plot("loss")`` is ``loss.png`` in the run directory."""
        return self.path / f"{name}.png"


def create_run_dir(path: str | Path, config: dict[str, Any]) -> Path:
    """Create the run directory ``path`` holding ``config.json``, atomically, and return it.

    The directory is built under a hidden temporary sibling (``.NAME.tmp-xxxxxxxx``) and renamed
    into place, so ``path`` never exists half-made. Raises ValueError, touching nothing, when
    ``path`` already exists or ``config`` is not JSON-serializable. Missing parents are made.
    """
    path = Path(path)
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict, got {type(config).__name__}")
    text = json_text(config)  # fail on an unserializable config before touching the disk
    if path.exists() or path.is_symlink():
        raise ValueError(
            f"run directory {path} already exists; resume it with --resume or choose another --out"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        atomic_write_text(RunDir(tmp).config, text)
        # os.rename silently replaces an empty directory; look again right before it so a
        # directory made meanwhile (a concurrent run) is refused, leaving only a tiny window.
        if path.exists():
            raise ValueError(f"run directory {path} was created by someone else meanwhile")
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(path.parent)
    return path


def open_run_dir(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """Return ``path`` and its parsed ``config.json``; ValueError says what is wrong."""
    path = Path(path)
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise ValueError(f"run directory {path} {what}")
    config_path = RunDir(path).config
    if not config_path.is_file():
        raise ValueError(f"{path} is not a run directory: it has no config.json")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{config_path} is corrupt ({e}); restore it or start a new run") from e
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} must hold a JSON object, got {type(config).__name__}")
    return path, config


class RunLocked(ValueError):
    """Another process is training the run directory."""


@contextlib.contextmanager
def run_lock(path: str | Path) -> Iterator[None]:
    """Hold the run directory ``path`` (made if missing) for this process while in the block.

    An exclusive ``flock`` on ``path/.lock``, which also holds this process's PID for the
    message another process gets: `RunLocked` ("run X is being trained by process 1234; ...").
    The kernel drops the lock when the process exits however it dies, so a crashed run never
    blocks its resume. The file stays: deleting it could let two processes lock two files.
    """
    lock = RunDir(Path(path)).lock
    lock.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise RunLocked(
                f"run {path} is being trained by process {holder or '(starting)'}; "
                "wait for it or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
