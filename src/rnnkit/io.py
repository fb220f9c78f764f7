"""Crash-safe files: atomic writes, appended JSON lines, and weights as safetensors.

Every file a user keeps is written to a temporary sibling (``.{name}.tmp-{random}``), flushed
to disk, and renamed over the target, so a crash leaves either the old file or the new one,
never a torn mix. Loading never unpickles: weights are safetensors, everything else is JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_model

Shape = tuple[int, ...]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: str | Path) -> None:
    """Make a rename or unlink inside ``directory`` durable (a rename lives in the directory)."""
    if os.name != "posix":  # Windows cannot open a directory; its renames are journaled
        return
    _fsync_file(Path(directory))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    For libraries that insist on a filename (``safetensors.torch.save_file``, ``savefig``,
    ``torch.save``). After the block the file is fsynced, renamed onto ``path`` and the
    directory fsynced. If the block raises, the temporary file is removed and ``path`` is
    untouched.
    """
    path = Path(path)
    # Same directory: os.replace is only atomic within one file system.
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        yield tmp
        _fsync_file(tmp)
        # Some writers (safetensors) create their file 0600: give it the mode any new file of
        # this user gets, so every file of a run directory is readable alike.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "xb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` as UTF-8, newlines written as given."""
    atomic_write_bytes(path, text.encode("utf-8"))


def json_text(obj: Any) -> str:
    """``obj`` as JSON with sorted keys, indent 2 and a trailing newline (stable diffs)."""
    try:
        return json.dumps(obj, sort_keys=True, indent=2) + "\n"
    except (TypeError, ValueError) as e:
        raise ValueError(f"cannot write as JSON: {e}") from e


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Replace ``path`` with ``obj`` as JSON (sorted keys, indent 2, trailing newline)."""
    atomic_write_text(path, json_text(obj))


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line and fsync it (metrics survive a kill)."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        # One write call per line: a killed process leaves whole lines, not half of one.
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def describe_mismatch(
    source: str | Path,
    missing: Sequence[str],
    unexpected: Sequence[str],
    shapes: dict[str, tuple[Shape, Shape]],
) -> str | None:
    """One line naming what differs between a file and a model, or None when nothing does.

    ``shapes`` maps a name to (shape in the file, shape in the model).
    """

    def listed(names: Sequence[str]) -> str:
        shown = ", ".join(sorted(names)[:5])
        return shown + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")

    parts = []
    if missing:
        parts.append(f"missing keys {listed(missing)}")
    if unexpected:
        parts.append(f"unexpected keys {listed(unexpected)}")
    if shapes:
        wrong = [
            f"{k} {list(f)} in the file vs {list(m)} in the model" for k, (f, m) in shapes.items()
        ]
        parts.append(f"shape mismatch {listed(wrong)}")
    if not parts:
        return None
    return f"{source} does not match the model: {'; '.join(parts)}"


def _tied_groups(state: dict[str, torch.Tensor]) -> list[list[str]]:
    """Names grouped by the tensor they alias (tied weights appear once per name)."""
    groups: dict[Any, list[str]] = {}
    for name, t in state.items():
        # Empty tensors can share a null data pointer without being tied.
        key = (
            (t.device, t.untyped_storage().data_ptr(), t.storage_offset(), t.shape, t.stride())
            if t.numel()
            else name
        )
        groups.setdefault(key, []).append(name)
    return list(groups.values())


def save_weights(path: str | Path, module: torch.nn.Module) -> None:
    """Write ``module.state_dict()`` to ``path`` as safetensors, atomically.

    Tied tensors (an embedding shared with the output layer) are stored once, under one of
    their names, because safetensors refuses shared storage; `load_weights` re-ties them.
    """
    with atomic_path(path) as tmp:
        save_model(module, str(tmp))


def load_weights(path: str | Path, module: torch.nn.Module) -> torch.nn.Module:
    """Copy the tensors in the safetensors file ``path`` into ``module`` and return it.

    Raises ValueError naming missing/unexpected keys and shape mismatches; the module is
    changed only when the whole file matches.
    """
    path = Path(path)
    try:
        with safe_open(path, framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except (OSError, SafetensorError) as e:
        raise ValueError(f"{path} is not a readable safetensors file: {e}") from e
    state = module.state_dict()
    missing, unexpected, wrong, source = [], sorted(set(shapes) - set(state)), {}, {}
    for group in _tied_groups(state):
        present = [name for name in group if name in shapes]
        if not present:
            missing.append(group[0])
            continue
        unexpected += present[1:]  # the model ties these; the file holds two different tensors
        for name in group:
            source[name] = present[0]
        if shapes[present[0]] != tuple(state[group[0]].shape):
            wrong[present[0]] = (shapes[present[0]], tuple(state[group[0]].shape))
    message = describe_mismatch(path, missing, unexpected, wrong)
    if message:
        raise ValueError(message)
    tensors = load_file(path)
    module.load_state_dict({name: tensors[key] for name, key in source.items()})
    return module
