"""Reading a checkpoint back: verified against its sidecar, checked against the objects it
is loaded into, and refused with a way forward when it cannot be used.

The format and the writing are in `rnnkit.train.checkpoint`. A damaged file (no sidecar,
truncated, a SHA-256 that does not match) raises `CheckpointError` naming the newest intact
older checkpoint to resume from instead (or saying none is left), before anything is loaded
and without changing any file. Only tensors and plain containers are unpickled
(``torch.load(weights_only=True)``). Format version 1 is upgraded as it is read; a newer
version than this rnnkit writes is refused.
"""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rnnkit.io import describe_mismatch
from rnnkit.train.checkpoint import (
    FORMAT,
    VERSION,
    checkpoints,
    latest_checkpoint,
    set_rng_state,
    sha256,
    sidecar_path,
    step_order,
)

__all__ = ["Checkpoint", "CheckpointError", "load_checkpoint"]


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


def _damage(path: Path) -> tuple[str, bytes]:
    """What is wrong with ``path`` ("" when nothing) and its bytes."""
    try:
        sidecar = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
        expected_size, expected_hash = int(sidecar["bytes"]), str(sidecar["sha256"])
    except FileNotFoundError:
        return f"has no sidecar {sidecar_path(path).name}, so it may be half-written", b""
    except (ValueError, KeyError, TypeError):
        return f"has an unreadable sidecar {sidecar_path(path).name}", b""
    try:
        data = path.read_bytes()
    except OSError as e:
        return f"cannot be read ({e.strerror})", b""
    if len(data) < expected_size:
        return f"is truncated ({len(data)} of the {expected_size} bytes written)", data
    if sha256(data) != expected_hash:
        return f"is corrupted (its SHA-256 does not match {sidecar_path(path).name})", data
    return "", data


def _advice(path: Path) -> str:
    older = [p for p in checkpoints(path.parent) if step_order(p) < step_order(path)]
    for candidate in reversed(older):
        if not _damage(candidate)[0]:
            return (
                f"the older checkpoint {candidate} is intact: move {path.name} and "
                f"{sidecar_path(path).name} out of {path.parent} to resume from it"
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
        set_rng_state(payload["rng"][rank])
    return Checkpoint(
        path=path,
        counters=dict(payload["counters"]),
        extra=json.loads(payload["extra"]),
        tensors={name: t.to(map_location) for name, t in payload["tensors"].items()},
        version=payload["version"],
        rng_restored=rng_restored,
    )
