"""The backends by name: which exist, what each needs installed, what each declares, and importing one only when
it is chosen.

This is the one list of backend names; everything else (the CLI, the studies, the tests) reads it from here. What
common/ must know of a backend before its framework loads (its weight-file format, its fitted memory model) the
backend declares in data files in its own folder, backends/<name>/<what>.toml, read here without importing it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import itertools
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import tomllib

from .errors import BackendUnavailable

# backend name -> (the module it needs, the pip extra that installs it)
BACKENDS: dict[str, tuple[str, str]] = {"torch": ("torch", "torch"), "mxnet": ("mxnet", "mxnet"), "jax": ("jax", "jax")}
NAMES: tuple[str, ...] = tuple(BACKENDS)

# In a checkout the packages are top-level (common, backends); installed they live under nst.
_ROOT = __name__.rpartition("common.")[0]


def check_name(name: str) -> str:
    """The name if it is a known backend, else ValueError naming the known ones."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known backends are {sorted(BACKENDS)}")
    return name


def check_names(text: str) -> list[str]:
    """The comma-separated backend names of text (as --backends takes them), each checked by check_name."""
    return [check_name(name.strip()) for name in text.split(",") if name.strip()]


def is_installed(name: str) -> bool:
    """Whether the framework a backend needs can be imported (without importing it)."""
    return importlib.util.find_spec(BACKENDS[check_name(name)][0]) is not None


def backend_package(name: str) -> ModuleType:
    """Import the package backends.<name>, turning a missing framework into BackendUnavailable."""
    framework, extra = BACKENDS[check_name(name)]
    try:
        return importlib.import_module(f"{_ROOT}backends.{name}")
    except ImportError as e:
        missing = getattr(e, "name", None) or ""
        if missing.split(".")[0] != framework and is_installed(name):
            raise
        raise BackendUnavailable(
            f"the {name} backend needs {framework}, which is not installed: pip install 'nst-crossframe[{extra}]'"
        ) from e


def pairs(names: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """Every two of the backends (default: all of NAMES), each pair once, in the registry's order: [(torch, mxnet)]
    for two backends, three pairs for three."""
    return list(itertools.combinations(NAMES if names is None else names, 2))


def backend_folder(name: str) -> Path:
    """The folder of backends.<name>, found without importing it (so without its framework)."""
    spec = importlib.util.find_spec(f"{_ROOT}backends.{check_name(name)}")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the {name} backend has no package backends/{name}")
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def declared(name: str, what: str) -> dict[str, Any]:
    """What a backend declares in backends/<name>/<what>.toml ("weights": its weight-file format; "memory": its
    fitted memory model), read without importing its framework."""
    with open(backend_folder(name) / f"{what}.toml", "rb") as f:
        return tomllib.load(f)
