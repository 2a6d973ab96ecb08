"""Finding and loading a backend by name; a framework is imported only here, and only when chosen."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType
from typing import TYPE_CHECKING

from .errors import BackendUnavailable

if TYPE_CHECKING:
    from .interface import Backend

# backend name -> (the module it needs, the pip extra that installs it)
BACKENDS: dict[str, tuple[str, str]] = {"torch": ("torch", "torch"), "mxnet": ("mxnet", "mxnet")}

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


def backend_module(name: str, submodule: str = "") -> ModuleType:
    """Import backends.<name>[.<submodule>], turning a missing framework into BackendUnavailable."""
    framework, extra = BACKENDS[check_name(name)]
    target = f"{_ROOT}backends.{name}" + (f".{submodule}" if submodule else "")
    try:
        return importlib.import_module(target)
    except ImportError as e:
        missing = getattr(e, "name", None) or ""
        if missing.split(".")[0] != framework and is_installed(name):
            raise
        raise BackendUnavailable(
            f"the {name} backend needs {framework}, which is not installed: pip install 'nst-crossframe[{extra}]'"
        ) from e


def load_backend(name: str, device: str = "cpu") -> Backend:
    """The backend object for "torch" or "mxnet" on a device ("cpu", "cuda:N")."""
    return backend_module(name).Backend(device=device)
