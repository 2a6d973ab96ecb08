"""Time to quality (nst bench --to-quality): how long the fastest recipe takes to reach the d2l recipe's loss.

Each backend runs in a fresh process; within it, the d2l recipe runs first and sets the target loss.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

from ..core.cpu import bf16_units
from ..core.interface import load_backend
from ..core.objective import make_objective
from ..core.recipe import CONTENT_LAYERS, STYLE_LAYERS
from ..jobs import children, images, samples
from ..jobs.settings import Settings, Stage
from ..jobs.stylize import stylize

# The fast recipe (benchmarks: README, "Speed"): 300 steps at half size on the d2l schedule, then 80 at full size
# from a gentler start (lr 0.05, x0.8 every 20: at 0.1 the first steps undo much of the half-size stage's work);
# bf16 where it is faster (torch on CPUs with bf16 units; MXNet 1.9's AMP bf16 ran slower than fp32 even there).
FAST_STAGES = (Stage(0.5, 300), Stage(1.0, 80, lr=0.05, lr_decay_every=20, lr_decay_factor=0.8))


def fast_recipe(backend: str) -> dict[str, Any]:
    """The precision and stages of the backend's fast recipe on this machine."""
    bf16 = load_backend(backend).bf16_is_faster and bf16_units() is not False
    return {"precision": "bf16" if bf16 else "fp32", "stages": FAST_STAGES}


def quality_child(backend: str, size: tuple[int, int], reference_steps: int = 500) -> dict[str, Any]:
    """In this process: the d2l recipe's wall time and final loss, then the fast recipe's.

    Wall time is the sum of the steps' seconds. Both final images (as saved, 8-bit) are judged by the same
    float32 d2l objective, so "reached" means the fast recipe's image is at least as good by the recipe's measure.
    """
    ops = load_backend(backend)
    content_img = images.load_image(samples.sample_path(samples.CONTENT))
    style_img = images.load_image(samples.sample_path(samples.STYLE))
    judge = make_objective(
        ops, ops.preprocess(content_img, size), ops.preprocess(style_img, size), CONTENT_LAYERS, STYLE_LAYERS
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


def in_child(spec: dict[str, Any], send: children.Send) -> dict[str, Any]:
    """quality_child with a spec's values (children.run calls this)."""
    return quality_child(spec["backend"], tuple(spec["size"]), spec.get("reference_steps", 500))


def to_quality(backends: Sequence[str], size: tuple[int, int], say: Callable[[str], None] | None = None) -> list:
    """quality_child for each backend, each in a fresh process."""
    results = []
    for backend in backends:
        if say:
            say(f"{backend}: time to the d2l recipe's quality (the recipe itself runs first)")
        spec = {"backend": backend, "size": list(size)}
        results.append(children.run(in_child, spec).check(f"the {backend} time-to-quality run").result)
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
