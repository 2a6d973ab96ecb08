"""Time to quality (nst bench --to-quality): how long ``--preset fast`` takes to reach the d2l recipe's loss.

Each backend runs in a fresh process; within it, the d2l recipe runs first and sets the target loss. Times are
whole runs (weights built, targets, every step, the image written) plus the process's own start (interpreter,
imports, the framework), which both pay once: what a user of ``nst stylize`` waits for.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..core.interface import load_backend
from ..core.objective import make_objective
from ..core.precision import auto as auto_precision
from ..core.recipe import CONTENT_LAYERS, SIZE, STYLE_LAYERS
from ..jobs import children, images, presets, samples
from ..jobs.stylize import stylize


def fast_recipe(backend: str) -> dict[str, Any]:
    """The fast preset's stages, and the precision worth timing beside fp32 on this machine: --precision auto's
    (bf16 where the CPU has bf16 units and the backend runs bf16 on a CPU: torch, MXNet), else fp32 alone."""
    return {"precision": auto_precision(backend, "cpu")[0], "stages": presets.get("fast").values["stages"]}


def process_age() -> float | None:
    """Seconds since this process started (Linux: /proc), or None where that is not known."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rpartition(")")[2].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


def quality_child(backend: str, size: tuple[int, int], reference_steps: int = 500) -> dict[str, Any]:
    """In this process: the d2l recipe's time and final loss, then the fast preset's (fp32, and bf16 where this
    backend runs it on this CPU).

    Both final images (as saved, 8-bit) are judged by the same float32 d2l objective, so "reached" means the fast
    image is at least as good by the recipe's measure. Ratios count the process's start once on each side.
    """
    before_imports = process_age()
    started = time.perf_counter()
    ops = load_backend(backend)
    start = (before_imports or 0.0) + time.perf_counter() - started
    content_img = images.load_image(samples.sample_path(samples.CONTENT))
    style_img = images.load_image(samples.sample_path(samples.STYLE))
    judge = make_objective(
        ops, ops.preprocess(content_img, size), ops.preprocess(style_img, size), CONTENT_LAYERS, STYLE_LAYERS
    )

    def run(preset: str, **explicit: Any) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            common = {"backend": backend, "size": size, "weights": "random", "output": f"{tmp}/o.png", "quiet": True}
            s = presets.settings({**common, **explicit}, preset)
            began = time.perf_counter()
            result = stylize(s, ops, say=lambda message: None)
            seconds = time.perf_counter() - began
            loss = float(ops.to_numpy(judge(ops.preprocess(images.load_image(s.output), size))[3]))
        steps_seconds = sum(r.seconds for r in result.history)
        return {"seconds": seconds, "steps_seconds": steps_seconds, "steps": len(result.history), "loss": loss}

    reference = run("d2l", steps=reference_steps)
    stages = presets.get("fast").values["stages"]
    if reference_steps != 500:  # a shortened check (tests): shorten the fast recipe alike
        stages = tuple(replace(st, steps=max(1, st.steps * reference_steps // 500)) for st in stages)
    recipe = fast_recipe(backend)
    fast: dict[str, dict[str, Any]] = {}
    for precision in dict.fromkeys(("fp32", recipe["precision"])):
        fast[precision] = run("fast", stages=stages, precision=precision)
        fast[precision]["reached"] = fast[precision]["loss"] <= reference["loss"]
        fast[precision]["ratio"] = (start + fast[precision]["seconds"]) / (start + reference["seconds"])
    return {
        "backend": backend,
        "size": list(size),
        "start_seconds": start,
        "reference": {"recipe": f"d2l: Adam fp32, {reference_steps} steps", **reference},
        "fast": {"stages": [asdict(st) for st in stages], **fast},
        "ratio": fast["fp32"]["ratio"],
    }


def in_child(spec: dict[str, Any], send: children.Send) -> dict[str, Any]:
    """quality_child with a spec's values (children.run calls this)."""
    return quality_child(spec["backend"], tuple(spec["size"]), spec.get("reference_steps", 500))


def to_quality(
    backends: Sequence[str], size: tuple[int, int], say: Callable[[str], None] | None = None, reference_steps: int = 500
) -> list:
    """quality_child for each backend, each in a fresh process."""
    results = []
    for backend in backends:
        if say:
            say(f"{backend}: time to the d2l recipe's quality (the recipe itself runs first)")
        spec = {"backend": backend, "size": list(size), "reference_steps": reference_steps}
        results.append(children.run(in_child, spec).check(f"the {backend} time-to-quality run").result)
    return results


def stage_text(stage: dict[str, Any]) -> str:
    """A stage of a recipe in words: "80 steps at 1x (lr 0.05, x0.8 every 20)"."""
    text = f"{stage['steps']} steps at {stage['scale']:g}x"
    if stage.get("lr") is not None:
        text += f" (lr {stage['lr']:g}, x{stage['lr_decay_factor']:g} every {stage['lr_decay_every']})"
    if stage.get("levels", 1) > 1:
        text += f" on a pyramid of {stage['levels']} levels"
    return text


def _cell(start: float, run: dict[str, Any]) -> str:
    """A fast run's cell: its whole time with the start, its steps and loss."""
    reached = "" if run["reached"] else ", loss not reached"
    return f"{start + run['seconds']:.1f} ({run['steps']}, {run['loss']:.4g}{reached})"


def quality_table(results: list[dict[str, Any]]) -> str:
    """Time to quality as a Markdown table: one line per backend, seconds of whole runs (the process's start
    included)."""
    lines = [
        "| backend | size | start s | d2l recipe: s (loss) | --preset fast: s (steps, loss) | of the recipe's time "
        "| --preset fast --precision bf16: s (loss), of the recipe's time |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ref, fast, start = r["reference"], r["fast"], r["start_seconds"]
        fp32, bf16 = fast["fp32"], fast.get("bf16")
        extra = f"{_cell(start, bf16)}, {bf16['ratio']:.3f}" if bf16 else "(not faster here)"
        lines.append(
            f"| {r['backend']} | {r['size'][0]}x{r['size'][1]} | {start:.1f} | {start + ref['seconds']:.0f} "
            f"({ref['loss']:.4g}) | {_cell(start, fp32)} | {fp32['ratio']:.3f} | {extra} |"
        )
    stages = ", ".join(stage_text(st) for st in results[0]["fast"]["stages"]) if results else ""
    return "\n".join([*lines, "", f"--preset fast: Adam, {stages}."])


# nst bench's flags of the time-to-quality runs: (names, argparse keywords).
QUALITY_FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--to-quality",),
        {
            "action": "store_true",
            "help": "also time how long --preset fast takes to reach the d2l recipe's final loss (whole runs, the "
            "process's start included)",
        },
    ),
    (
        ("--quality-size",),
        {
            "type": int,
            "nargs": 2,
            "default": SIZE,
            "metavar": ("H", "W"),
            "help": f"size of the --to-quality runs (default {SIZE[0]} {SIZE[1]})",
        },
    ),
    (
        ("--quality-steps",),
        {
            "type": int,
            "default": 500,
            "metavar": "N",
            "help": "the d2l recipe's steps in the --to-quality runs, the fast preset's stages shortened alike "
            "(default 500: the recipe itself)",
        },
    ),
)
