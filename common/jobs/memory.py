"""How much memory a run needs, estimated before anything is allocated, and what fits in what there is.

Peak memory is a base (the framework, VGG-19's weights) plus a factor times the bytes of VGG-19's activations
up to conv5_1, which grow linearly with the pixel count. The coefficients were fitted to measured peaks by
benchmarks/memory.py on this project's machines (Linux, x86-64 CPU); they are estimates, with a margin.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence

import numpy as np

from ..core import layers
from ..core.errors import UserError
from ..core.layers import feature_sizes

# (backend, dtype, precision) -> (base bytes, factor): fitted by benchmarks/memory.py (see the README) to peak RSS
# measured at 128x128 ... 768x1024 on a 2-core x86-64 machine, torch 2.14.1 and mxnet 1.9.1. The fp32 modes: on an
# AMD EPYC with the current code (benchmarks/results/memory_epyc.json; MXNet float64 up to 512x768); the bf16 modes,
# which need bf16 units, on an Intel Xeon with the code of 2026-11-23 (benchmarks/results/memory.json), whose fp32
# peaks were 0.1 GiB higher at small sizes and, for MXNet, 15% higher at large ones.
FITTED: dict[tuple[str, str, str], tuple[float, float]] = {
    ("torch", "float32", "fp32"): (8.874e08, 1.082),
    ("torch", "float32", "bf16"): (9.81e08, 0.878),
    ("torch", "float64", "fp32"): (1.196e09, 1.456),
    ("mxnet", "float32", "fp32"): (4.369e08, 1.717),
    ("mxnet", "float32", "bf16"): (6.518e08, 2.061),
    ("mxnet", "float64", "fp32"): (4.749e08, 4.152),
}
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


def estimate(
    backend: str, size: tuple[int, int], dtype: str = "float32", precision: str = "fp32", upto: layers.Layer = DEEPEST
) -> float | None:
    """Estimated peak bytes of a run, with a margin; None when this combination was never measured."""
    key = (backend, dtype, precision)
    if key not in FITTED:
        return None
    base, factor = FITTED[key]
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
