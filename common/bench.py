"""nst bench: seconds per step over a grid of backends, sizes and precisions, against the machine's own peak.

Each backend runs in a fresh process (so the two frameworks' thread pools never compete). The matmul peak is
measured in the same run, and the FLOPs of a step are counted (common/flops.py), so each cell also says how
close it comes to the hardware: GFLOP/s achieved over GFLOP/s of a large matrix product in that precision.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from .cpu import bf16_units, check_precision
from .errors import NSTError, UserError
from .flops import step_flops
from .objective import make_objective
from .registry import load_backend
from .settings import D2L_CONTENT_LAYERS, D2L_STYLE_LAYERS, Stage

SIZES = ((128, 128), (256, 256), (300, 450), (512, 512))
PHOTOREAL_SIZES = ((256, 256), (500, 500))  # the HRNet generator's training step (nst photoreal), fp32
PRECISIONS = ("fp32", "bf16")


def matmul_peak(precision: str, sizes: Sequence[int] = (1024, 2048, 4096), seconds: float = 1.0) -> float:
    """GFLOP/s of the fastest n x n matrix product in fp32 or bf16 (torch if installed, else numpy for fp32),
    measured in a fresh process: in one that has loaded MXNet too, the two OpenMP runtimes halve it."""
    spec = json.dumps({"mode": "peak", "precision": precision, "sizes": list(sizes), "seconds": seconds})
    cli = Path(__file__).resolve().parent.parent / "cli.py"
    r = subprocess.run(
        [sys.executable, str(cli), "bench", "--child", spec], capture_output=True, text=True, check=False
    )
    if r.returncode != 0:
        raise UserError(f"measuring the matmul peak failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return float(json.loads(r.stdout.strip().splitlines()[-1]))


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
        while time.perf_counter() - start < seconds:
            product()
            count += 1
        elapsed = time.perf_counter() - start
        best = max(best, 2.0 * n**3 * count / elapsed / 1e9)
        if elapsed / count > seconds:
            break
    return best


def timed_steps(trainer: Any, warmup: int, repeats: int) -> list[float]:
    """Seconds of each of ``repeats`` trainer steps, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        trainer.step()
    times = []
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
    objective = make_objective(ops, content, style, D2L_CONTENT_LAYERS, D2L_STYLE_LAYERS, precision=precision)
    trainer = ops.trainer(ops.synthesized_image(content), objective, 0.3, 50, 0.8)
    return timed_steps(trainer, warmup, repeats)


def photoreal_step_times(backend: str, size: tuple[int, int], warmup: int, repeats: int) -> list[float]:
    """Seconds of each timed Adam step training the HRNet generator on the photoreal-hrnet objective."""
    from .objective import LossWeights
    from .photoreal import random_generator
    from .photoreal_objective import PhotorealObjective
    from .presets import get

    r = get("photoreal-hrnet").values
    ops = load_backend(backend)
    rng = np.random.default_rng(0)
    content, style = (ops.to_tensor(rng.integers(0, 256, (*size, 3), dtype=np.uint8)) for _ in range(2))
    names = tuple(dict.fromkeys(r["content_layers"] + r["style_layers"]))
    extract = ops.feature_extractor(ops.vgg19("random", upto="conv5_1"), names)
    weights = LossWeights(r["content_weight"], r["style_weight"], 0.0, r["style_layer_weights"])
    objective = PhotorealObjective(ops, extract, r["content_layers"], r["style_layers"], content, style, weights)
    generator = ops.generator(random_generator(0))
    trainer = ops.trainer(generator, objective, r["lr"], r["lr_decay_every"], r["lr_decay_factor"], inputs=(content,))
    return timed_steps(trainer, warmup, repeats)


def child(spec: dict[str, Any]) -> Any:
    """Every cell of one backend (or a time-to-quality run), measured in this process; a failing cell says why."""
    if spec.get("mode") == "peak":
        return peak_child(spec["precision"], spec["sizes"], spec["seconds"])
    if spec.get("mode") == "quality":
        return quality_child(spec["backend"], tuple(spec["size"]), spec.get("reference_steps", 500))
    cells = []
    for size in spec["sizes"]:
        for precision in spec["precisions"]:
            cell: dict[str, Any] = {"backend": spec["backend"], "size": list(size), "precision": precision}
            try:
                times = step_times(spec["backend"], tuple(size), precision, spec["warmup"], spec["repeats"])
                cell.update(median=statistics.median(times), min=min(times), max=max(times), times=times)
            except (NSTError, RuntimeError, ValueError) as e:
                cell["error"] = str(e).splitlines()[0][:200]
            cells.append(cell)
    for size in spec.get("photoreal_sizes", ()):
        cell = {"backend": spec["backend"], "size": list(size), "precision": "fp32", "task": "photoreal"}
        try:
            times = photoreal_step_times(spec["backend"], tuple(size), spec["warmup"], spec["repeats"])
            cell.update(median=statistics.median(times), min=min(times), max=max(times), times=times)
        except (NSTError, RuntimeError, ValueError) as e:
            cell["error"] = str(e).splitlines()[0][:200]
        cells.append(cell)
    return cells


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
    from .record import versions

    cli = Path(__file__).resolve().parent.parent / "cli.py"
    report: dict[str, Any] = {"machine": versions(), "peaks": {}, "cells": []}
    for precision in precisions:
        report["peaks"][precision] = matmul_peak(precision)
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
        r = subprocess.run(
            [sys.executable, str(cli), "bench", "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
        )
        if r.returncode != 0:
            raise UserError(f"the {backend} benchmark failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
        report["cells"] += json.loads(r.stdout.strip().splitlines()[-1])
    for cell in report["cells"]:
        cell.setdefault("task", "gatys")
        if cell["task"] != "gatys":
            continue  # FLOPs are counted for the Gatys step only
        flops = step_flops(tuple(cell["size"]), D2L_CONTENT_LAYERS, D2L_STYLE_LAYERS)["total"]
        cell["gflop_per_step"] = flops / 1e9
        if "median" in cell:
            cell["gflops"] = flops / cell["median"] / 1e9
            cell["fraction_of_peak"] = cell["gflops"] / report["peaks"][cell["precision"]]
    return report


def table(report: dict[str, Any]) -> str:
    """The grid as a Markdown table."""
    m = report["machine"]
    peaks = ", ".join(f"{p} {v:.0f} GFLOP/s" if v >= 10 else f"{p} {v:.2g} GFLOP/s" for p, v in report["peaks"].items())
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
        lines.append(
            f"{head} {c['median']:.3f} | {c['min']:.3f} | "
            f"{c['max']:.3f} | {c['gflop_per_step']:.1f} | {c['gflops']:.0f} | {c['fraction_of_peak']:.0%} |"
        )
    return "\n".join(lines)


# The fast recipe (benchmarks: README, "Speed"): 300 steps at half size on the d2l schedule, then 80 at full size
# from a gentler start (lr 0.05, x0.8 every 20: at 0.1 the first steps undo much of the half-size stage's work);
# bf16 where it is faster (torch on CPUs with bf16 units; MXNet 1.9's AMP bf16 ran slower than fp32 even there).
FAST_STAGES = (Stage(0.5, 300), Stage(1.0, 80, lr=0.05, lr_decay_every=20, lr_decay_factor=0.8))


def fast_recipe(backend: str) -> dict[str, Any]:
    """The precision and stages of the backend's fast recipe on this machine."""
    bf16 = backend == "torch" and bf16_units() is not False
    return {"precision": "bf16" if bf16 else "fp32", "stages": FAST_STAGES}


def quality_child(backend: str, size: tuple[int, int], reference_steps: int = 500) -> dict[str, Any]:
    """In this process: the d2l recipe's wall time and final loss, then the fast recipe's.

    Wall time is the sum of the steps' seconds. Both final images (as saved, 8-bit) are judged by the same
    float32 d2l objective, so "reached" means the fast recipe's image is at least as good by the recipe's measure.
    """
    import tempfile

    from . import images, samples
    from .job import stylize
    from .settings import Settings

    ops = load_backend(backend)
    content_img = images.load_image(samples.sample_path(samples.CONTENT))
    style_img = images.load_image(samples.sample_path(samples.STYLE))
    judge = make_objective(
        ops, ops.preprocess(content_img, size), ops.preprocess(style_img, size), D2L_CONTENT_LAYERS, D2L_STYLE_LAYERS
    )

    def run(**recipe: Any) -> tuple[float, float, int]:
        with tempfile.TemporaryDirectory() as tmp:
            s = Settings(backend=backend, size=size, weights="random", output=f"{tmp}/o.png", quiet=True, **recipe)
            result = stylize(s, ops, say=lambda message: None)
            loss = float(ops.to_numpy(judge(ops.preprocess(result.image, size))[3]))
        return sum(r.seconds for r in result.history), loss, len(result.history)

    ref_seconds, ref_loss, _ = run(steps=reference_steps)
    recipe = fast_recipe(backend)
    if reference_steps != 500:  # a shortened check (tests): shorten the fast recipe alike
        recipe["stages"] = tuple(
            replace(st, steps=max(1, st.steps * reference_steps // 500)) for st in recipe["stages"]
        )
    fast_seconds, fast_loss, fast_steps = run(**recipe)
    same_recipe = None
    if recipe["precision"] != "fp32":  # the fast precision alone, on the d2l recipe itself: how far its loss moves
        seconds, loss, _ = run(steps=reference_steps, precision=recipe["precision"])
        same_recipe = {
            "precision": recipe["precision"],
            "seconds": seconds,
            "loss": loss,
            "vs_fp32": loss / ref_loss - 1,
        }
    return {
        "backend": backend,
        "size": list(size),
        "reference": {"recipe": f"d2l: Adam fp32, {reference_steps} steps", "seconds": ref_seconds, "loss": ref_loss},
        "fast": {
            "recipe": {**recipe, "stages": [asdict(st) for st in recipe["stages"]]},
            "seconds": fast_seconds,
            "steps": fast_steps,
            "loss": fast_loss,
            "reached": fast_loss <= ref_loss,
        },
        "ratio": fast_seconds / ref_seconds,
        "d2l_in_fast_precision": same_recipe,
    }


def to_quality(backends: Sequence[str], size: tuple[int, int], say: Callable[[str], None] | None = None) -> list:
    """quality_child for each backend, each in a fresh process."""
    cli = Path(__file__).resolve().parent.parent / "cli.py"
    results = []
    for backend in backends:
        if say:
            say(f"{backend}: time to the d2l recipe's quality (the recipe itself runs first)")
        spec = json.dumps({"mode": "quality", "backend": backend, "size": list(size)})
        r = subprocess.run(
            [sys.executable, str(cli), "bench", "--child", spec], capture_output=True, text=True, check=False
        )
        if r.returncode != 0:
            raise UserError(f"the {backend} time-to-quality run failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
        results.append(json.loads(r.stdout.strip().splitlines()[-1]))
    return results


def stage_text(stage: dict[str, Any]) -> str:
    """A stage of a recipe in words: "80 steps at 1x (lr 0.05, x0.8 every 20)"."""
    text = f"{stage['steps']} steps at {stage['scale']:g}x"
    if stage.get("lr") is not None:
        text += f" (lr {stage['lr']:g}, x{stage['lr_decay_factor']:g} every {stage['lr_decay_every']})"
    return text


def quality_table(results: list[dict[str, Any]]) -> str:
    """Time to quality as a Markdown table."""
    lines = [
        "| backend | size | d2l recipe: s (loss) | fast recipe | its s (steps, loss) | of the recipe's time | "
        "d2l recipe in the fast precision: s (loss, vs fp32) |",
        "|---|---|---|---|---|---:|---|",
    ]
    for r in results:
        ref, fast = r["reference"], r["fast"]
        stages = ", ".join(stage_text(st) for st in fast["recipe"]["stages"])
        reached = "" if fast["reached"] else ", loss not reached"
        p = r.get("d2l_in_fast_precision")
        same = f"{p['precision']}: {p['seconds']:.0f} ({p['loss']:.4g}, {p['vs_fp32']:+.1%})" if p else "(fp32 only)"
        lines.append(
            f"| {r['backend']} | {r['size'][0]}x{r['size'][1]} | {ref['seconds']:.0f} ({ref['loss']:.4g}) | "
            f"Adam {fast['recipe']['precision']}, {stages} | {fast['seconds']:.0f} ({fast['steps']}, "
            f"{fast['loss']:.4g}{reached}) | {r['ratio']:.2f} | {same} |"
        )
    return "\n".join(lines)
