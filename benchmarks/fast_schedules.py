"""How the fast preset's schedule was found: candidates judged by loss against cost, not by the clock.

A candidate is a coarse-to-fine run (its stages as `Stage` values) or, to try several last stages from one start,
a prefix of stages run once and then several final full-size schedules (Adam as the backend computes it, or the
shared L-BFGS) from its result. Every --every steps the image (8-bit, as saved) is judged by the d2l objective at
full size (float32, seeded random VGG-19 weights, the bundled pair or --content/--style), relative to the d2l
recipe's final loss (--reference, measured by nst bench --to-quality). Cost is counted in full-size step
equivalents, steps x scale^2, which a shared machine's load does not change; the clock is
benchmarks/fast_preset.py's business. Usage:

    python benchmarks/fast_schedules.py candidates.json --every 5 --out benchmarks/results/fast_schedules_<cpu>.json

candidates.json: [{"stages": [{"scale": 0.25, "steps": 200, "lr": 0.3, ...}, ...]},
                  {"prefix": [...stages...], "finals": [{"optimizer": "adam", "lr": 0.02, "decay_every": 10,
                   "decay_factor": 1.0, "steps": 30}, ...]}]

A prefix candidate may set "content_weight" (the d2l recipe's is 1) for its prefix, a final its own for its
steps; every image is judged by the recipe's weights all the same.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from common.core.interface import load_backend  # noqa: E402
from common.core.lbfgs import LBFGSTrainer  # noqa: E402
from common.core.objective import LossWeights, make_objective  # noqa: E402
from common.core.recipe import CONTENT_LAYERS, D2L, SIZE, STYLE_LAYERS  # noqa: E402
from common.jobs import images, samples  # noqa: E402
from common.jobs.record import versions  # noqa: E402
from common.jobs.settings import Settings, Stage  # noqa: E402
from common.jobs.stylize import stylize  # noqa: E402

# the d2l recipe's final loss on each image pair (torch, seeded random weights; nst bench --to-quality measures it)
RECIPE_LOSS = {"bundled": 0.6456432938575745, "astronaut-coffee": 0.6098}
FOUR_STAGES = (  # the fast preset as measured until 2026-12-07 (0.25, 0.5, 0.7, 1; no pyramid): later scripts' start
    Stage(scale=0.25, steps=200, lr=0.3, lr_decay_every=50, lr_decay_factor=0.8),
    Stage(scale=0.5, steps=60, lr=0.1, lr_decay_every=15, lr_decay_factor=0.8),
    Stage(scale=0.7, steps=30, lr=0.05, lr_decay_every=10, lr_decay_factor=0.8),
    Stage(scale=1.0, steps=24, lr=0.01, lr_decay_every=24, lr_decay_factor=1.0),
)


def cost(stages: list[Stage], step: int) -> float:
    """Full-size step equivalents of a staged run's first ``step`` steps."""
    total, done = 0.0, 0
    for st in stages:
        k = max(0, min(step - done, st.steps))
        total, done = total + k * st.scale**2, done + st.steps
    return total


def run_stages(
    ops: Any,
    backend: str,
    size: tuple[int, int],
    stages: list[Stage],
    pair: dict,
    folder: str,
    every: int = 0,
    content_weight: float = D2L["content_weight"],
) -> Path:
    """Run ``stages`` on ``pair`` (content, style) with seeded random weights, writing folder/o.png (and, every
    ``every`` steps, folder/o_stepNNNN.png); the output's path."""
    s = Settings(
        **pair,
        backend=backend,
        size=size,
        weights="random",
        output=f"{folder}/o.png",
        quiet=True,
        stages=tuple(stages),
        save_every=every or None,
        content_weight=content_weight,
    )
    stylize(s, ops, say=lambda message: None)
    return Path(folder) / "o.png"


def staged(
    ops: Any, backend: str, size: tuple[int, int], stages: list[Stage], every: int, judge: Any, pair: dict
) -> list[tuple[int, float, float]]:
    """(step, cost, loss) every ``every`` steps of a staged run on ``pair`` (content, style), and at its end."""
    with tempfile.TemporaryDirectory() as tmp:
        out = run_stages(ops, backend, size, stages, pair, tmp, every)
        frames = [*sorted(Path(tmp).glob("o_step*.png")), out]
        n = sum(st.steps for st in stages)
        steps = [int(f.stem.rpartition("step")[2]) if "step" in f.stem else n for f in frames]
        return [(k, cost(stages, k), judge(images.load_image(f))) for k, f in zip(steps, frames, strict=True)]


def prefix_result(
    ops: Any, backend: str, size: tuple[int, int], prefix: list[Stage], pair: dict, **weight: float
) -> Image.Image:
    """The image (8-bit, as saved) a staged run of ``prefix`` on ``pair`` (content, style) writes (``weight``:
    content_weight, if not the recipe's)."""
    with tempfile.TemporaryDirectory() as tmp:
        return images.load_image(run_stages(ops, backend, size, prefix, pair, tmp, **weight))


def finals(
    ops: Any, start: Any, size: tuple[int, int], final: dict, every: int, judge: Any, objective: Any
) -> tuple[list[tuple[int, float]], Any]:
    """(step, loss) every ``every`` steps of one full-size schedule from the image ``start``, and its last image."""
    X = ops.preprocess(start, size)
    args = (final["lr"], final["decay_every"], final["decay_factor"])
    if final["optimizer"] == "lbfgs":
        trainer = LBFGSTrainer(ops, X, objective, *args)
    else:
        trainer = ops.trainer(ops.synthesized_image(X), objective, *args)
    curve = []
    for k in range(1, final["steps"] + 1):
        trainer.step()
        if k % every == 0:
            curve.append((k, judge(ops.postprocess(trainer.image()))))
    return curve, ops.postprocess(trainer.image())


def main() -> None:
    """Judge every candidate, write the curves, print each one's last point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("candidates")
    p.add_argument("--backend", default="torch")
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--size", default=f"{SIZE[0]}x{SIZE[1]}", help="HxW (default the recipe's)")
    p.add_argument("--reference", type=float, default=RECIPE_LOSS["bundled"], help="the d2l recipe's final loss")
    p.add_argument("--content", help="content image (default: the bundled sample)")
    p.add_argument("--style", help="style image (default: the bundled sample)")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    ops = load_backend(args.backend)
    size = tuple(map(int, args.size.split("x")))
    paths = (args.content or samples.sample_path(samples.CONTENT), args.style or samples.sample_path(samples.STYLE))
    pair = {"content": str(paths[0]), "style": (str(paths[1]),)}
    content, style = (images.load_image(path) for path in paths)
    X = (ops.preprocess(content, size), ops.preprocess(style, size))
    objective = make_objective(ops, *X, CONTENT_LAYERS, STYLE_LAYERS)

    def steered(final: dict) -> Any:
        """The objective a final stage descends: the recipe's, or with the final's own content weight."""
        if "content_weight" not in final:
            return objective
        return make_objective(ops, *X, CONTENT_LAYERS, STYLE_LAYERS, LossWeights(content=final["content_weight"]))

    def judge(image: Any) -> float:
        """The image's judged loss over the recipe's."""
        return float(ops.to_numpy(objective(ops.preprocess(image, size))[3])) / args.reference

    def terms(image: Any) -> list[float]:
        """The content, style and TV terms of the image's judged loss (the recipe's weights), unscaled."""
        return [float(ops.to_numpy(term)) for term in objective(ops.preprocess(image, size))[:3]]

    results = []
    for cand in json.loads(Path(args.candidates).read_text()):
        if "stages" in cand:
            curve = staged(ops, args.backend, size, [Stage(**st) for st in cand["stages"]], args.every, judge, pair)
            results.append({**cand, "curve": curve})
        else:
            prefix = [Stage(**st) for st in cand["prefix"]]
            weight = {"content_weight": cand["content_weight"]} if "content_weight" in cand else {}
            start = prefix_result(ops, args.backend, size, prefix, pair, **weight)
            curves, ends = [], []
            for f in cand["finals"]:
                curve, last = finals(ops, start, size, f, args.every, judge, steered(f))
                curves.append(curve)
                ends.append(terms(last))
            results.append(
                {
                    **cand,
                    "prefix_cost": cost(prefix, 10**9),
                    "prefix_loss": judge(start),
                    "prefix_terms": terms(start),
                    "curves": curves,
                    "final_terms": ends,
                }
            )
        print(json.dumps(results[-1])[-300:], flush=True)
    Path(args.out).write_text(json.dumps({"machine": versions(), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
