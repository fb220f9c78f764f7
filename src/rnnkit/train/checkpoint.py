"""Full training checkpoints: everything the rest of a run depends on, and how it is written.

On disk, in the checkpoint directory (``run_dir/checkpoint/``)::

    step-00000120.pt     torch.save of plain containers (loads with weights_only=True):
                           model, optimizer and scheduler state dicts, RNG states (python,
                           numpy, torch CPU, CUDA; one set per rank of a distributed run),
                           counters, extra (as JSON text), tensors
    step-00000120.json   sidecar: file name, size, SHA-256 and counters of the .pt file

Format versions: 1 held one set of RNG states (rank 0's) and, from the trainer, the counters
with the rest of its progress loose in ``extra``; 2 holds a list of RNG states, one per rank,
and the trainer's whole `Progress` in ``extra``. Version 1 still loads; newer ones are refused.

A checkpoint exists once its sidecar does. The .pt is written to a temporary file, fsynced
and renamed, and only then is the sidecar written (atomically too), so a crash at any moment
leaves every vouched-for file whole; a .pt without a sidecar is debris and is ignored. A
second save at the same step (an epoch end right after a periodic save) goes to
``step-00000120-1.pt`` so a vouched-for file is never overwritten. Older checkpoints are
pruned only after the new one is complete. One writer per directory is assumed (a run
directory is locked while it trains, see `rnnkit.train.rundir.run_lock`). A failed write
(a full disk) removes its temporary file and raises a one-line OSError.

Reading one back, verified against its sidecar before anything is loaded, is
`rnnkit.train.checkpoint_load`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.io import atomic_write_bytes, atomic_write_json, fsync_dir

__all__ = [
    "FORMAT",
    "VERSION",
    "checkpoints",
    "latest_checkpoint",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]

FORMAT, VERSION = "rnnkit.checkpoint", 2
_NAME = re.compile(r"step-(\d+)(?:-(\d+))?\.pt")


def sidecar_path(path: Path) -> Path:
    """The sidecar of the checkpoint ``path``: its name, size, SHA-256 and counters."""
    return path.with_suffix(".json")


def step_order(path: Path) -> tuple[int, int]:
    """(step, n) of ``step-SSSSSSSS[-n].pt``; a file named otherwise sorts before all."""
    match = _NAME.fullmatch(path.name)
    return (int(match[1]), int(match[2] or 0)) if match else (-1, -1)


def sha256(data: bytes) -> str:
    """The SHA-256 of ``data`` as the sidecar holds it (hex)."""
    return hashlib.sha256(data).hexdigest()


def checkpoints(directory: str | Path) -> list[Path]:
    """The complete checkpoints (a .pt with its sidecar) in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _NAME.fullmatch(p.name) and sidecar_path(p).exists()]
    return sorted(found, key=step_order)


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest complete checkpoint in ``directory`` (not yet verified), or None."""
    found = checkpoints(directory)
    return found[-1] if found else None


def rng_state() -> dict[str, Any]:
    """This process's RNG states (python, numpy, torch, CUDA in use) as plain containers."""
    # Tensors and builtins only, so the file loads with torch.load(weights_only=True). NumPy's
    # legacy global generator is saved because user code and libraries still draw from it.
    version, mt, gauss_next = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # noqa: NPY002
    state = {
        "python": {"version": version, "state": torch.tensor(mt), "gauss_next": gauss_next},
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    # Only when CUDA is in use: querying it otherwise would create a context on every GPU.
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Set this process's RNGs to ``state``, as `rng_state` took it."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss_next"]))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    legacy = ("MT19937", keys, n["pos"], n["has_gauss"], n["cached_gaussian"])
    np.random.set_state(legacy)  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        for device, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device)


def _check_inputs(counters: Any, extra: Any, tensors: Any, keep: Any) -> str:
    if not isinstance(counters, dict) or not all(
        isinstance(k, str) and type(v) is int for k, v in counters.items()
    ):
        raise ValueError(f"counters must be a dict of str to int, got {counters!r}")
    if "step" not in counters or counters["step"] < 0:
        raise ValueError(
            f"counters needs a non-negative 'step' (it names the file), got {counters}"
        )
    if not isinstance(tensors, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
    ):
        raise ValueError("tensors must be a dict of str to torch.Tensor")
    if type(keep) is not int or keep < 1:
        raise ValueError(f"keep must be a positive int, got {keep!r}")
    try:
        return json.dumps(extra, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise ValueError(f"extra must be JSON-serializable: {e}") from e


def _new_path(directory: Path, step: int) -> Path:
    same_step = [step_order(p)[1] for p in checkpoints(directory) if step_order(p)[0] == step]
    suffix = f"-{max(same_step) + 1}" if same_step else ""
    return directory / f"step-{step:08d}{suffix}.pt"


def save_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    scheduler: Any = None,
    counters: dict[str, int],
    extra: dict[str, Any] | None = None,
    tensors: dict[str, torch.Tensor] | None = None,
    keep: int = 2,
    rng: list[dict[str, Any]] | None = None,
) -> Path:
    """Write a checkpoint into ``directory`` (created if needed) and return its path.

    ``scheduler`` is anything with ``state_dict()``/``load_state_dict()``. ``counters`` must
    hold ``step``, which names the file; ``extra`` must be JSON-serializable; ``tensors`` (a
    carried recurrent state, say) come back from `load_checkpoint` as they were. ``rng``:
    the RNG states of every rank of a distributed run, in rank order (`rng_state` of each);
    default: this process's, taken now. The newest ``keep`` checkpoints are kept, older ones
    deleted. A failed write (``OSError``, the disk full) leaves no file behind and raises an
    OSError of one line naming the checkpoint.
    """
    extra, tensors = extra or {}, tensors or {}
    extra_json = _check_inputs(counters, extra, tensors, keep)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": rng if rng is not None else [rng_state()],
        "counters": dict(counters),
        "extra": extra_json,
        "tensors": {name: t.detach() for name, t in tensors.items()},
    }
    path = _new_path(directory, counters["step"])
    # Serialized in memory and written by Python: torch.save onto a file turns a full disk
    # into a many-line RuntimeError from its zip writer; a plain write raises OSError.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    sidecar = {"format": FORMAT, "file": path.name, "bytes": len(data), "sha256": sha256(data)}
    try:
        atomic_write_bytes(path, data)  # a failed write removes its temporary file
        try:
            atomic_write_json(sidecar_path(path), {**sidecar, "counters": counters})
        except OSError:
            path.unlink(missing_ok=True)  # never vouched for: debris
            raise
    except OSError as e:
        reason = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        raise OSError(
            e.errno, f"cannot write checkpoint {path}: {reason}; older checkpoints are untouched"
        ) from e
    _prune(directory, keep, path)
    return path


def _prune(directory: Path, keep: int, newest: Path) -> None:
    """Delete all but the newest ``keep`` checkpoints, and debris left by crashed writes."""
    complete = checkpoints(directory)
    doomed = [p for p in complete[: max(len(complete) - keep, 0)] if p != newest]
    for path in doomed:
        # Sidecar first: the checkpoint stops existing in one step, then its data goes.
        sidecar_path(path).unlink()
        path.unlink(missing_ok=True)
    kept = {name for p in complete if p not in doomed for name in (p, sidecar_path(p))}
    for path in directory.iterdir():
        stale_temp = path.name.startswith(".step-") and ".tmp-" in path.name
        ours = _NAME.fullmatch(path.with_suffix(".pt").name) and path.suffix in (".pt", ".json")
        if stale_temp or (ours and path not in kept):
            path.unlink(missing_ok=True)
    fsync_dir(directory)
