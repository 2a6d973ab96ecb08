"""The run record: settings, versions, per-step history and outcome, written as JSON."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..core import cpu
from .outputs import write_text

DISTRIBUTION = "nst-crossframe"  # the name pyproject.toml gives the package
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def nst_version() -> str:
    """This program's version: the checkout's pyproject.toml where the code runs from one (an editable install
    too), else the installed package's metadata."""
    try:
        text = PYPROJECT.read_text(encoding="utf-8")
        project = text.split("[project]", 1)[1].split("\n[", 1)[0]
        if re.search(rf'^name = "{DISTRIBUTION}"', project, flags=re.M):
            return re.search(r'^version = "([^"]+)"', project, flags=re.M).group(1)
    except (OSError, IndexError, AttributeError):
        pass
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def versions(framework: str | None = None, framework_version: str | None = None) -> dict[str, Any]:
    """nst, Python, numpy and framework versions, and the machine they ran on."""
    v: dict[str, Any] = {
        "nst": nst_version(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu": cpu.model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }
    if framework:
        v[framework] = framework_version
    return v


def write(path: str, record: dict[str, Any]) -> None:
    """Write a run record atomically (valid JSON or nothing)."""
    write_text(path, json.dumps(record, indent=2, allow_nan=True, ensure_ascii=False) + "\n", "run record")


def dumps_argv() -> str:
    """The command line that started this process, for the record."""
    return " ".join(sys.argv)
