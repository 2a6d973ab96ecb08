"""How much memory a run needs, estimated before anything is allocated, and what fits in what there is.

Peak memory is a base (the framework, VGG-19's weights) plus a factor times the bytes of VGG-19's activations
up to conv5_1, which grow linearly with the pixel count; the photoreal method (training the HRNet generator, whose
activations grow linearly too) has its own base and factor on the same measure. The model is framework-free and
here; its coefficients are each backend's own, by method, dtype and precision, in backends/<name>/memory.toml:
fitted to measured peaks by benchmarks/memory.py on this project's machines (Linux, x86-64 CPU), which writes them
there, each fit naming the results file and the CPU it came from. They are read without importing any framework,
so that a run that would not fit is refused before its backend loads. They are estimates, with a margin.

The fits in use (docs/speed.md, "Memory"): 128x128 ... 768x1024 on 2-core x86-64 machines, torch 2.14.1 and mxnet 1.9.1.
The fp32 modes on an AMD EPYC with the current code (benchmarks/results/memory_epyc.json; MXNet float64 up to
512x768); the bf16 modes, which need bf16 units, on an Intel Xeon with the code of 2026-11-23
(benchmarks/results/memory.json), whose fp32 peaks were 0.1 GiB higher at small sizes and, for MXNet, 15% higher at
large ones. The photoreal method's: on an AMD EPYC Zen 4 (benchmarks/results/memory_photoreal.json).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core import layers, registry
from ..core.errors import UserError
from ..core.layers import feature_sizes

FIT_FILE = "memory"  # backends/<name>/memory.toml: a [[fit]] table per (method, dtype, precision)
GATYS = "gatys"  # the method of a fit that names none
MARGIN = 1.15
# How far below the fit a float32 run's measured peak may be: the fits are within 3% of their own points in float32
# (18% for torch in float64, at 128x128) and the same code's peaks differed by up to 7% between the two CPUs measured.
FIT_ERROR = 0.10
DEEPEST = layers.BY_NAME["conv5_1"]


def activation_bytes(size: tuple[int, int], dtype: str = "float32", upto: layers.Layer = DEEPEST) -> int:
    """Bytes of every VGG-19 layer's output, up to a layer, for one image of size (H, W)."""
    itemsize = np.dtype(dtype).itemsize
    return sum(layer.out_channels * h * w * itemsize for layer, h, w in feature_sizes(size, upto))


def fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares (base, factor) of y = base + factor * x."""
    factor, base = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(base), float(factor)


def fits(backend: str) -> list[dict[str, Any]]:
    """A backend's fitted coefficients, one dict per (method, dtype, precision), from its memory.toml (no framework
    loads); a fit that names no method is the Gatys method's."""
    return [{"method": GATYS, **fit} for fit in registry.declared(backend, FIT_FILE)["fit"]]


def fit_file(backend: str) -> Path:
    """Where a backend's fitted coefficients live (benchmarks/memory.py writes them there)."""
    return registry.backend_folder(backend) / f"{FIT_FILE}.toml"


def mode_of(fit: dict[str, Any]) -> tuple[str, str, str]:
    """What a fit is for: (method, dtype, precision)."""
    return fit.get("method", GATYS), fit["dtype"], fit["precision"]


def coefficients(
    backend: str, dtype: str = "float32", precision: str = "fp32", method: str = GATYS
) -> tuple[float, float] | None:
    """(base bytes, factor) fitted for a backend's method in a dtype and precision; None when never measured."""
    if backend not in registry.NAMES:
        return None
    for fit in fits(backend):
        if mode_of(fit) == (method, dtype, precision):
            return float(fit["base"]), float(fit["factor"])
    return None


def fitted() -> dict[tuple[str, str, str, str], tuple[float, float]]:
    """Every backend's coefficients: (backend, method, dtype, precision) -> (base bytes, factor)."""
    return {
        (name, *mode_of(fit)): (float(fit["base"]), float(fit["factor"]))
        for name in registry.NAMES
        for fit in fits(name)
    }


def estimate(
    backend: str,
    size: tuple[int, int],
    dtype: str = "float32",
    precision: str = "fp32",
    upto: layers.Layer = DEEPEST,
    method: str = GATYS,
) -> float | None:
    """Estimated peak bytes of a run, with a margin; None when this combination was never measured."""
    fit = coefficients(backend, dtype, precision, method)
    if fit is None:
        return None
    base, factor = fit
    return MARGIN * (base + factor * activation_bytes(size, dtype, upto))


def largest_size(budget: float, base: float, factor: float, dtype: str, aspect: float) -> tuple[int, int]:
    """The largest (H, W) with H / W = aspect whose fitted peak stays within budget bytes."""
    per_pixel = activation_bytes((64, 64), dtype) / (64 * 64)
    pixels = max(0.0, (budget / MARGIN - base) / factor / per_pixel)
    w = math.sqrt(pixels / aspect)
    return int(w * aspect), int(w)


def available() -> int | None:
    """Bytes this process can still use: MemAvailable, lowered by a cgroup limit where there is one."""
    limits = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            text = f.read().strip()
        if text != "max":
            with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
                limits.append(int(text) - int(f.read().strip()))
    except (OSError, ValueError):
        pass
    override = os.environ.get(LIMIT_VARIABLE)  # for tests and for sharing a machine
    if override:
        limits.append(parse_bytes(override))
    return min(limits) if limits else None


LIMIT_VARIABLE = "NST_MEMORY_LIMIT"
# K, M, G, T and KiB ... TiB: powers of 1024 (as memory is counted); KB ... TB: powers of 1000 (as disks are).
UNITS = {"": 1, "b": 1} | {
    unit: base**power
    for power, letter in enumerate("kmgt", 1)
    for unit, base in ((letter, 1024), (letter + "ib", 1024), (letter + "b", 1000))
}


def parse_bytes(text: str, name: str = LIMIT_VARIABLE) -> int:
    """A byte count such as 2000000000, 1e9, 512M, 8G, 1.5GiB or 2GB; UserError in one line naming the variable for
    anything else (a negative or zero count, another unit, not a number)."""
    match = re.fullmatch(r"\s*(\d+\.?\d*(?:e\d+)?|\.\d+)\s*([a-z]*)\s*", text.lower())
    if match is None or match.group(2) not in UNITS:
        raise UserError(
            f"{name}={text!r} is not a byte count: give a positive number with an optional unit, e.g. 8G, 512M, "
            "1.5GiB or 2GB (K, M, G, T and KiB ... TiB count in 1024s, KB ... TB in 1000s)"
        )
    count = float(match.group(1)) * UNITS[match.group(2)]
    if not math.isfinite(count) or count < 1:
        raise UserError(f"{name}={text!r}: a memory limit must be a finite count of at least one byte")
    return int(count)
