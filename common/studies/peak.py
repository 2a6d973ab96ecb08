"""The machine's own peak: GFLOP/s of a large matrix product in fp32, bf16 or fp16, measured in a fresh process (the
FLOP floor of nst bench and benchmarks/step_time.py), and whether a reduced precision's peak is a peak at all."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core import cpu
from ..jobs import children


def matmul_peak(precision: str, sizes: Sequence[int] = (1024, 2048, 4096), seconds: float = 1.0) -> float:
    """GFLOP/s of the fastest n x n matrix product in fp32, bf16 or fp16 (torch if installed, else numpy for fp32),
    measured in a fresh process: in one that has loaded MXNet too, the two OpenMP runtimes halve it."""
    spec = {"precision": precision, "sizes": list(sizes), "seconds": seconds}
    return float(children.run(peak_in_child, spec).check("measuring the matmul peak").result)


def no_peak(precision: str, peaks: Mapping[str, float], text: str | None = None) -> str | None:
    """Why the measured matmul peak in this precision is no peak on this CPU (None where it is one).

    A peak is real where the CPU has units for the precision (common.core.cpu, from /proc/cpuinfo or ``text``) and
    its measured matrix product is at least as fast as fp32's: "units" slower than fp32 are emulation (measured on an
    AMD EPYC Zen 4, with bf16 units and none for fp16, torch's fp16 d2l step ran at 4x the emulated fp16 "peak").
    """
    if precision == "fp32":
        return None
    has = cpu.units(precision, text)
    if has is False:
        return f"{precision} emulated on this CPU (no {precision} units): no peak"
    if has is None:
        return f"{precision} units unknown (no CPU flags to read): no peak"
    peak, fp32 = peaks.get(precision, math.nan), peaks.get("fp32", math.nan)
    if math.isnan(peak) or math.isnan(fp32):
        return f"{precision} matmul peak not measured (no torch): no peak"
    if peak < fp32:
        return f"{precision} emulated on this CPU (matmul {peak:.3g} GFLOP/s, below fp32's {fp32:.3g}): no peak"
    return None


def peak_in_child(spec: dict[str, Any], send: children.Send) -> float:
    """peak_child with a spec's values (children.run calls this)."""
    return peak_child(spec["precision"], spec["sizes"], spec["seconds"])


def peak_child(precision: str, sizes: Sequence[int], seconds: float) -> float:
    """In this process: the best GFLOP/s over the matrix sizes, smallest first; a size whose single product takes
    longer than ``seconds`` is the last (a CPU emulating bf16 would spend minutes on the next)."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None and precision != "fp32":
        return float("nan")
    best = 0.0
    for n in sizes:
        if torch is None:
            a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
            product = lambda a=a: a @ a  # noqa: E731
        else:
            dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
            a = torch.randn(n, n).to(dtype)
            product = lambda a=a: torch.mm(a, a)  # noqa: E731
        product()
        count, start = 0, time.perf_counter()
        while count == 0 or time.perf_counter() - start < seconds:  # at least one timed product
            product()
            count += 1
        elapsed = time.perf_counter() - start
        best = max(best, 2.0 * n**3 * count / elapsed / 1e9)
        if elapsed / count > seconds:
            break
    return best
