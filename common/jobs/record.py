"""The run record: settings, versions, per-step history and outcome, written as JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import Any

import numpy as np

from ..core import cpu
from .outputs import write_text


def versions(framework: str | None = None, framework_version: str | None = None) -> dict[str, Any]:
    """Python, numpy and framework versions, and the machine they ran on."""
    v: dict[str, Any] = {
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
