"""The backends by name: which exist, what each needs installed, and importing one only when it is chosen.

This is the one list of backend names; everything else (the CLI, the studies, the tests) reads it from here.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import BackendUnavailable

# backend name -> (the module it needs, the pip extra that installs it)
BACKENDS: dict[str, tuple[str, str]] = {"torch": ("torch", "torch"), "mxnet": ("mxnet", "mxnet")}
NAMES: tuple[str, ...] = tuple(BACKENDS)

# In a checkout the packages are top-level (common, backends); installed they live under nst.
_ROOT = __name__.rpartition("common.")[0]


def check_name(name: str) -> str:
    """The name if it is a known backend, else ValueError naming the known ones."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known backends are {sorted(BACKENDS)}")
    return name


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
