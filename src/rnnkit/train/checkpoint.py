"""Full training checkpoints: everything the rest of a run depends on, verified before loading.

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
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import pickle
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.io import atomic_write_bytes, atomic_write_json, describe_mismatch, fsync_dir

FORMAT, VERSION = "rnnkit.checkpoint", 2
_NAME = re.compile(r"step-(\d+)(?:-(\d+))?\.pt")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, unverifiable, or for another model."""


@dataclass
class Checkpoint:
    """What `load_checkpoint` returns besides the states it loads into the given objects."""

    path: Path
    counters: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    version: int = VERSION  # the format version the file was written in
    rng_restored: bool = False  # False: not asked for, or no RNG state saved for this rank


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _order(path: Path) -> tuple[int, int]:
    """(step, n) of ``step-SSSSSSSS[-n].pt``; a file named otherwise sorts before all."""
    match = _NAME.fullmatch(path.name)
    return (int(match[1]), int(match[2] or 0)) if match else (-1, -1)


def checkpoints(directory: str | Path) -> list[Path]:
    """The complete checkpoints (a .pt with its sidecar) in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _NAME.fullmatch(p.name) and _sidecar(p).exists()]
    return sorted(found, key=_order)


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


def _set_rng_state(state: dict[str, Any]) -> None:
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
    same_step = [_order(p)[1] for p in checkpoints(directory) if _order(p)[0] == step]
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
    sidecar = {"file": path.name, "bytes": len(data), "sha256": _sha256(data)}
    try:
        atomic_write_bytes(path, data)  # a failed write removes its temporary file
        try:
            atomic_write_json(_sidecar(path), {"format": FORMAT, **sidecar, "counters": counters})
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
        _sidecar(path).unlink()
        path.unlink(missing_ok=True)
    kept = {name for p in complete if p not in doomed for name in (p, _sidecar(p))}
    for path in directory.iterdir():
        stale_temp = path.name.startswith(".step-") and ".tmp-" in path.name
        ours = _NAME.fullmatch(path.with_suffix(".pt").name) and path.suffix in (".pt", ".json")
        if stale_temp or (ours and path not in kept):
            path.unlink(missing_ok=True)
    fsync_dir(directory)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _damage(path: Path) -> tuple[str, bytes]:
    """What is wrong with ``path`` ("" when nothing) and its bytes."""
    try:
        sidecar = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        expected_size, expected_hash = int(sidecar["bytes"]), str(sidecar["sha256"])
    except FileNotFoundError:
        return f"has no sidecar {_sidecar(path).name}, so it may be half-written", b""
    except (ValueError, KeyError, TypeError):
        return f"has an unreadable sidecar {_sidecar(path).name}", b""
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"cannot be read ({e.strerror})", b""
    if len(data) < expected_size:
        return f"is truncated ({len(data)} of the {expected_size} bytes written)", data
    if _sha256(data) != expected_hash:
        return f"is corrupted (its SHA-256 does not match {_sidecar(path).name})", data
    return "", data


def _advice(path: Path) -> str:
    older = [p for p in checkpoints(path.parent) if _order(p) < _order(path)]
    for candidate in reversed(older):
        if not _damage(candidate)[0]:
            return (
                f"the older checkpoint {candidate} is intact: move {path.name} and "
                f"{_sidecar(path).name} out of {path.parent} to resume from it"
            )
    return f"no intact older checkpoint is left in {path.parent}, so the run has to start over"


def _read(path: Path) -> dict[str, Any]:
    problem, data = _damage(path)
    if problem:
        raise CheckpointError(f"checkpoint {path} {problem}; {_advice(path)}")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message advises weights_only=False, which would run the code in the file.
        raise CheckpointError(
            f"{path} is not a checkpoint rnnkit wrote (it holds objects other than tensors "
            "and plain containers) and was not loaded"
        ) from e
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} cannot be loaded: {e}".splitlines()[0]) from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rnnkit checkpoint")
    version = payload.get("version")
    if type(version) is not int or version < 1:
        raise CheckpointError(f"{path} is not an rnnkit checkpoint (format version {version!r})")
    if version > VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {version!r}, but this rnnkit reads versions "
            f"1 to {VERSION}: it was written by a newer rnnkit; upgrade rnnkit to resume it"
        )
    if version == 1:  # one set of RNG states, rank 0's
        payload["rng"] = [payload["rng"]]
    return payload


def _check_model(path: Path, model: torch.nn.Module, saved: dict[str, torch.Tensor]) -> None:
    state = model.state_dict()
    missing = [k for k in state if k not in saved]
    unexpected = [k for k in saved if k not in state]
    shapes = {
        k: (tuple(saved[k].shape), tuple(state[k].shape))
        for k in state
        if k in saved and saved[k].shape != state[k].shape
    }
    message = describe_mismatch(f"checkpoint {path}", missing, unexpected, shapes)
    if message:
        raise CheckpointError(f"{message} (it was written by a different model configuration)")


def _check_optimizer(path: Path, optimizer: torch.optim.Optimizer, saved: Any) -> None:
    if saved is None:
        raise CheckpointError(f"checkpoint {path} holds no optimizer state")
    have = [len(g["params"]) for g in optimizer.param_groups]
    got = [len(g["params"]) for g in saved["param_groups"]]
    if have != got:
        raise CheckpointError(
            f"checkpoint {path} holds optimizer state for parameter groups of sizes {got}, "
            f"but the optimizer has {have}"
        )


def load_checkpoint(
    directory: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    map_location: str | torch.device = "cpu",
    restore_rng: bool = True,
    rank: int = 0,
) -> Checkpoint:
    """Load the newest checkpoint in ``directory`` (or the .pt file it names) into the objects.

    The file is checked against its sidecar's SHA-256 first; a damaged or mismatched
    checkpoint raises `CheckpointError` before anything is loaded, and no file is changed.
    ``model`` (and ``optimizer``/``scheduler`` when given) receive their saved states; the
    global RNGs are restored to those of rank ``rank`` when ``restore_rng`` and the file holds
    them (``rng_restored`` says whether); ``tensors`` come back on ``map_location``.
    """
    target = Path(directory)
    path = target if target.is_file() else latest_checkpoint(target)
    if path is None:
        raise CheckpointError(f"there is no checkpoint in {target}")
    payload = _read(path)
    _check_model(path, model, payload["model"])
    if optimizer is not None:
        _check_optimizer(path, optimizer, payload["optimizer"])
    if scheduler is not None and payload["scheduler"] is None:
        raise CheckpointError(f"checkpoint {path} holds no learning-rate scheduler state")
    model.load_state_dict(payload["model"])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(payload["scheduler"])
    rng_restored = restore_rng and rank < len(payload["rng"])
    if rng_restored:
        _set_rng_state(payload["rng"][rank])
    return Checkpoint(
        path=path,
        counters=dict(payload["counters"]),
        extra=json.loads(payload["extra"]),
        tensors={name: t.to(map_location) for name, t in payload["tensors"].items()},
        version=payload["version"],
        rng_restored=rng_restored,
    )
