"""nst bench: seconds per step over a grid of backends, sizes and precisions, against the machine's own peak.

Each backend runs in a fresh process (so the two frameworks' thread pools never compete). The matmul peak is
measured in the same run, and the FLOPs of a step are counted (common/studies/flops.py), so each cell also says how
close it comes to the hardware: GFLOP/s achieved over GFLOP/s of a large matrix product in that precision, where
that peak is real (peak.no_peak: the CPU has units for it); elsewhere the cell says why it has no fraction.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import allocator
from ..core.cpu import check_precision
from ..core.errors import NSTError, UserError
from ..core.hrnet import check_size as check_generator_size
from ..core.hrnet import random_generator
from ..core.interface import load_backend
from ..core.objective import LossWeights, make_objective
from ..core.photoreal_objective import PhotorealObjective
from ..core.precision import AUTO
from ..core.recipe import CONTENT_LAYERS, STYLE_LAYERS
from ..core.registry import NAMES, check_names
from ..jobs import children
from ..jobs.outputs import check_writable, write_text
from ..jobs.presets import get
from ..jobs.record import versions
from ..jobs.settings import PRECISIONS as RUN_PRECISIONS
from ..jobs.settings import check_size
from .flops import step_flops
from .peak import matmul_peak, no_peak
from .quality import QUALITY_FLAGS

SIZES = ((128, 128), (256, 256), (300, 450), (512, 512))
PHOTOREAL_SIZES = ((256, 256), (500, 500))  # the HRNet generator's training step (nst photoreal), fp32
PRECISIONS = ("fp32", "bf16")
ALL_PRECISIONS = tuple(p for p in RUN_PRECISIONS if p != AUTO)  # what a cell can measure: a precision itself
Say = Callable[[str], None] | None


def timed_steps(trainer: Any, warmup: int, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` trainer steps, after ``warmup`` untimed ones, freed memory kept as in a run."""
    times = []
    with allocator.kept_memory():
        for _ in range(warmup):
            trainer.step()
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.step()
            times.append(time.perf_counter() - start)
    return times


def step_times(backend: str, size: tuple[int, int], precision: str, warmup: int, repeats: int) -> list[float]:
    """Seconds of each timed Adam step of the d2l objective (in this process); UserError for bf16 on a CPU
    without bf16 units."""
    check_precision(precision, "cpu")
    ops = load_backend(backend)
    rng = np.random.default_rng(0)
    content, style = (ops.to_tensor(rng.integers(0, 256, (*size, 3), dtype=np.uint8)) for _ in range(2))
    objective = make_objective(ops, content, style, CONTENT_LAYERS, STYLE_LAYERS, precision=precision)
    trainer = ops.trainer(ops.synthesized_image(content), objective, 0.3, 50, 0.8)
    return timed_steps(trainer, warmup, repeats)


def photoreal_step_times(backend: str, size: tuple[int, int], warmup: int, repeats: int) -> list[float]:
    """Seconds of each timed Adam step training the HRNet generator on the photoreal-hrnet objective."""
    r = get("photoreal-hrnet").values
    ops = load_backend(backend)
    rng = np.random.default_rng(0)
    content, style = (ops.to_tensor(rng.integers(0, 256, (*size, 3), dtype=np.uint8)) for _ in range(2))
    names = tuple(dict.fromkeys(r["content_layers"] + r["style_layers"]))
    extract = ops.feature_extractor(ops.vgg19("random", upto="conv5_1"), names)
    weights = LossWeights(r["content_weight"], r["style_weight"], 0.0, r["style_layer_weights"])
    taps = (r["content_layers"], r["style_layers"])
    objective = PhotorealObjective(ops, extract, *taps, content, style, weights, r["style_gram"])
    generator = ops.generator(random_generator(0))
    trainer = ops.trainer(generator, objective, r["lr"], r["lr_decay_every"], r["lr_decay_factor"], inputs=(content,))
    return timed_steps(trainer, warmup, repeats)


def cells_child(spec: dict[str, Any], send: children.Send) -> list[dict[str, Any]]:
    """Every cell of one backend, measured in this process (children.run calls this); a failing cell says why."""
    cells = []
    for size in spec["sizes"]:
        for precision in spec["precisions"]:
            cell: dict[str, Any] = {"backend": spec["backend"], "size": list(size), "precision": precision}
            cells.append(
                _measure(cell, step_times, spec["backend"], tuple(size), precision, spec["warmup"], spec["repeats"])
            )
    for size in spec.get("photoreal_sizes", ()):
        cell = {"backend": spec["backend"], "size": list(size), "precision": "fp32", "task": "photoreal"}
        cells.append(
            _measure(cell, photoreal_step_times, spec["backend"], tuple(size), spec["warmup"], spec["repeats"])
        )
    return cells


def _measure(cell: dict[str, Any], timer: Callable[..., list[float]], *args: Any) -> dict[str, Any]:
    """The cell with the median, min and max of timer(*args), or with the first line of the error it raised."""
    try:
        times = timer(*args)
        cell.update(median=statistics.median(times), min=min(times), max=max(times), times=times)
    except (NSTError, RuntimeError, ValueError) as e:
        cell["error"] = str(e).splitlines()[0][:200]
    return cell


def run(
    backends: Sequence[str],
    sizes: Sequence[tuple[int, int]] = SIZES,
    precisions: Sequence[str] = PRECISIONS,
    warmup: int = 2,
    repeats: int = 5,
    say: Callable[[str], None] | None = None,
    photoreal_sizes: Sequence[tuple[int, int]] = (),
) -> dict[str, Any]:
    """The whole grid, each backend in its own process, plus the machine's matmul peaks; with photoreal_sizes,
    also the HRNet generator's training step (fp32) at those sizes."""
    report: dict[str, Any] = {"machine": versions(), "peaks": {}, "cells": []}
    for precision in dict.fromkeys(["fp32", *precisions]):  # fp32's peak too: a slower reduced one is emulated
        report["peaks"][precision] = matmul_peak(precision)
    report["no_peak"] = {p: why for p in report["peaks"] if (why := no_peak(p, report["peaks"])) is not None}
    for backend in backends:
        if say:
            say(f"{backend}: {len(sizes) * len(precisions)} cells")
        spec = {
            "backend": backend,
            "sizes": [list(s) for s in sizes],
            "precisions": list(precisions),
            "warmup": warmup,
            "repeats": repeats,
            "photoreal_sizes": [list(s) for s in photoreal_sizes],
        }
        report["cells"] += children.run(cells_child, spec).check(f"the {backend} benchmark").result
    for cell in report["cells"]:
        rate(cell, report)
    return report


def rate(cell: dict[str, Any], report: dict[str, Any]) -> None:
    """Add a Gatys cell's FLOPs per step, GFLOP/s, and fraction of its precision's peak (or why it has none)."""
    if cell.setdefault("task", "gatys") != "gatys":
        return  # FLOPs are counted for the Gatys step only
    flops = step_flops(tuple(cell["size"]), CONTENT_LAYERS, STYLE_LAYERS)["total"]
    cell["gflop_per_step"] = flops / 1e9
    if "median" in cell:
        cell["gflops"] = flops / cell["median"] / 1e9
        why = report["no_peak"].get(cell["precision"])
        cell.update(
            {"no_peak": why} if why else {"fraction_of_peak": cell["gflops"] / report["peaks"][cell["precision"]]}
        )


def table(report: dict[str, Any]) -> str:
    """The grid as a Markdown table."""
    m = report["machine"]
    peaks = ", ".join(
        f"{p} {v:.{'0f' if v >= 10 else '2g'}} GFLOP/s{' (no peak)' if p in report.get('no_peak', {}) else ''}"
        for p, v in report["peaks"].items()
    )
    lines = [
        f"{m['cpu']}, {m['cores']} cores; measured matmul peak: {peaks}",
        "",
        "| backend | step | size | precision | s/step (median) | min | max | GFLOP/step | GFLOP/s | of peak |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in report["cells"]:
        size = f"{c['size'][0]}x{c['size'][1]}"
        task = {"gatys": "d2l image", "photoreal": "HRNet generator"}[c.get("task", "gatys")]
        head = f"| {c['backend']} | {task} | {size} | {c['precision']} |"
        if "error" in c:
            lines.append(f"{head} {c['error']} | | | | | |")
            continue
        if "gflops" not in c:
            lines.append(f"{head} {c['median']:.3f} | {c['min']:.3f} | {c['max']:.3f} | | | |")
            continue
        of_peak = f"{c['fraction_of_peak']:.0%}" if "fraction_of_peak" in c else c["no_peak"]
        lines.append(
            f"{head} {c['median']:.3f} | {c['min']:.3f} | "
            f"{c['max']:.3f} | {c['gflop_per_step']:.1f} | {c['gflops']:.0f} | {of_peak} |"
        )
    return "\n".join(lines)


def sizes_arg(text: str) -> tuple[tuple[int, int], ...]:
    """Sizes given as HxW,HxW,... (an argparse type)."""
    try:
        sizes = tuple(tuple(int(v) for v in item.lower().split("x")) for item in text.split(",") if item.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"sizes are HxW, comma-separated, e.g. 128x128,300x450: {text!r}") from e
    if not sizes or any(len(s) != 2 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes are HxW, comma-separated, e.g. 128x128,300x450: {text!r}")
    return sizes


def sizes_or_none_arg(text: str) -> tuple[tuple[int, int], ...]:
    """Sizes, or none (an argparse type)."""
    return () if text.strip().lower() == "none" else sizes_arg(text)


def size_text(sizes: Sequence[tuple[int, int]]) -> str:
    """Sizes as HxW,HxW,... text."""
    return ",".join(f"{h}x{w}" for h, w in sizes)


@dataclass(frozen=True)
class Grid:
    """What nst bench measures: backends (comma-separated) x sizes x precisions, and the generator's sizes."""

    backends: str
    sizes: Sequence[tuple[int, int]]
    precisions: str
    warmup: int
    repeats: int
    photoreal_sizes: Sequence[tuple[int, int]] = ()

    def validated(self) -> tuple[list[str], list[str]]:
        """The backend names and precisions, or UserError naming the first bad value."""
        try:
            backends = check_names(self.backends)
        except ValueError as e:
            raise UserError(str(e)) from e
        for size in self.sizes:
            check_size(size)
        for size in self.photoreal_sizes:
            check_generator_size(check_size(size), "--photoreal-sizes")
        precisions = [p.strip() for p in self.precisions.split(",") if p.strip()]
        for p in precisions:
            if p not in ALL_PRECISIONS:
                raise UserError(f"--precisions: {p!r} is not one of {', '.join(ALL_PRECISIONS)}")
        if self.warmup < 0 or self.repeats < 1:
            raise UserError("--warmup must be >= 0 and --repeats >= 1")
        return backends, precisions


def command(
    grid: Grid, json_path: str | None, quality_size: tuple[int, int] | None, say: Say, quality_steps: int = 500
) -> str:
    """nst bench: the grid (and time to quality, given its size) as tables; the report also to json_path."""
    from . import quality

    backends, precisions = grid.validated()
    if quality_steps < 1:
        raise UserError(f"--quality-steps must be >= 1, not {quality_steps}")
    if json_path:
        check_writable(json_path, (".json",), "--json")
    report = run(backends, grid.sizes, precisions, grid.warmup, grid.repeats, say, grid.photoreal_sizes)
    text = table(report)
    if quality_size is not None:
        report["to_quality"] = quality.to_quality(backends, tuple(quality_size), say, quality_steps)
        text += "\n\n" + quality.quality_table(report["to_quality"])
    if json_path:
        write_text(json_path, json.dumps(report, indent=2) + "\n", "--json")
    return text


ABOUT = {
    "description": "Time the d2l optimization step for each backend, size and precision (each backend in a "
    "fresh process), count its FLOPs, and measure the machine's matmul peak in the same run."
}
# The flags of nst bench: (names, argparse keywords).
FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--backends",), {"default": ",".join(NAMES), "help": f"(default {','.join(NAMES)})"}),
    (
        ("--sizes",),
        {"type": sizes_arg, "default": SIZES, "metavar": "HxW,...", "help": f"(default {size_text(SIZES)})"},
    ),
    (("--precisions",), {"default": ",".join(PRECISIONS), "help": f"(default {','.join(PRECISIONS)})"}),
    (
        ("--photoreal-sizes",),
        {
            "type": sizes_or_none_arg,
            "default": PHOTOREAL_SIZES,
            "metavar": "HxW,...|none",
            "help": "also time the HRNet generator's training step (nst photoreal) at these sizes "
            f"(default {size_text(PHOTOREAL_SIZES)})",
        },
    ),
    (("--warmup",), {"type": int, "default": 2, "help": "untimed steps first (default 2)"}),
    (("--repeats",), {"type": int, "default": 5, "help": "timed steps (default 5)"}),
    (("--json",), {"metavar": "PATH.json", "help": "also write the results as JSON"}),
    *QUALITY_FLAGS,
    (("--quiet",), {"action": "store_true", "help": "no progress lines"}),
)
