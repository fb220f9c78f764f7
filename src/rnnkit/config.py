"""Typed configuration: one dataclass per component, nested in a run config.

Every config is a plain dataclass. This module turns dictionaries (from JSON, a TOML file or
command-line overrides such as ``train.lr=3e-4``) into those dataclasses strictly: an unknown
key, a value of the wrong type or a missing required field is a ``ValueError`` that names the
key and what it expected. Nothing is guessed and nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from rnnkit.layers import Kind

C = TypeVar("C")


@dataclasses.dataclass
class RecurrentConfig:
    """The settings of a `rnnkit.layers.Recurrent` stack: the base of every task's ``model``
    section, which adds its own fields and may change these defaults."""

    kind: Kind = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0  # between stacked layers

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"model.{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout!r}")

    def check_memory(self) -> None:
        """Refuse a stack too big to train here, before anything is allocated: the recurrent
        matrices alone, float32, with their gradient and Adam's two moments, are a lower
        bound on what training needs. (A run trained elsewhere still loads.)"""
        gates = {"lstm": 4, "gru": 3}.get(self.kind, 1)
        needed = 4 * 4 * gates * self.hidden_size**2 * self.num_layers
        memory = _physical_memory()
        if memory and needed > memory:
            raise ValueError(
                f"model.hidden_size={self.hidden_size} needs at least {needed / 2**30:,.0f} GiB "
                f"to train its recurrent weights; this machine has {memory / 2**30:,.0f} GiB"
            )

    def layer_args(self) -> dict[str, Any]:
        """The keyword arguments a model passes on to its `Recurrent` stack."""
        return {"kind": self.kind, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "dropout": self.dropout}  # fmt: skip


def _physical_memory() -> int | None:
    """Bytes of RAM, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON-able data."""
    return dataclasses.asdict(config)


def from_dict(cls: type[C], data: Mapping[str, Any], where: str = "") -> C:
    """Build ``cls`` from ``data``, checking every key and value against the field types."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where or cls.__name__} must be a table of settings, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown setting {_join(where, unknown[0])}; "
            f"valid settings{' of ' + where if where else ''}: {', '.join(fields)}"
        )
    values = {name: _coerce(hints[name], data[name], _join(where, name)) for name in data}
    try:
        return cls(**values)
    except TypeError as err:  # a required field is missing
        raise ValueError(f"{where or cls.__name__}: {err}") from None


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check ``value`` against the type ``hint``; ints are accepted where floats are expected."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, key)
    if origin in (typing.Union, types.UnionType):
        # TOML has no null: "none" (any case) switches an optional setting off.
        if type(None) in args and (value is None or str(value).lower() in ("none", "null")):
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value, key)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(errors[0])
    if origin is typing.Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise ValueError(f"{key} must be one of {choices}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ValueError(f"{key} must be a list, got {value!r}")
        item = args[0] if args else Any
        return origin(_coerce(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise ValueError(f"{key} must be {hint.__name__}, got {value!r}")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ValueError(f"{key} must be {hint.__name__}, got {value!r}")
    return value


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=3e-4"`` -> (["train", "lr"], 0.0003). Values are read as TOML, else text."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"an override must look like section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as lstm or cosine
    return key.strip().split("."), value


def merge_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides to a nested dictionary (a copy is returned)."""
    merged = json.loads(json.dumps(data))
    for text in overrides:
        path, value = parse_override(text)
        node = merged
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"cannot set {'.'.join(path)}: {part} is not a section")
        node[path[-1]] = value
    return merged


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file, with a one-line error naming the file when it is invalid."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from None


def build(
    cls: type[C],
    base: Mapping[str, Any] | None = None,
    toml: str | Path | None = None,
    overrides: Iterable[str] = (),
) -> C:
    """The class's defaults, then ``base``, then a TOML file, then overrides; later ones win.

    Starting from the defaults of ``cls`` itself keeps the defaults a task gives its nested
    sections (a task's own TrainConfig, say) when only some of their keys are set.
    """
    data = _deep_update(to_dict(cls()), base or {})
    if toml is not None:
        data = _deep_update(data, load_toml(toml))
    return from_dict(cls, merge_overrides(data, overrides))


def _deep_update(data: dict[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_update(dict(out[key]), value)
        else:
            out[key] = value
    return out
