"""Would Adam's moments, carried from one coarse-to-fine stage to the next, shorten the full-size stage? (torch)

A fresh Adam moves every pixel by about its learning rate on its first steps (m / sqrt(v) is about +-1), so the
loss of the upsampled image first rises. This study runs the stages as the pipeline does (each stage from the
previous result written as an 8-bit image and resized) and, with "carry", hands the next stage the previous stage's
first and second moments, resized bilinearly and scaled by (previous scale / scale)^2 per moment order (a mean's
gradient per pixel scales with the pixel count), with its step count. Judged as benchmarks/fast_schedules.py judges:
the d2l objective at full size on the 8-bit image over the recipe's final loss, against full-size step equivalents.
It reaches into torch.optim.Adam's state, so it is a study, not a setting. Usage:

    python benchmarks/fast_schedules_carry.py candidates.json --out results.json
    candidates.json: [{"carry": true, "stages": [{"scale": 0.25, "steps": 200, "lr": 0.3, "every": 50,
                       "factor": 0.8}, ...]}]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fast_schedules import RECIPE_LOSS  # noqa: E402

from common.core.interface import load_backend  # noqa: E402
from common.core.objective import make_objective  # noqa: E402
from common.core.recipe import CONTENT_LAYERS, SIZE, STYLE_LAYERS  # noqa: E402
from common.jobs import images, samples  # noqa: E402
from common.jobs.record import versions  # noqa: E402


def run(
    ops: Any, content: Any, style: Any, judge: Any, stages: list[dict], carry: bool, every: int
) -> list[tuple[int, float, float]]:
    """(full-size step, cost, loss) every ``every`` full-size steps of a staged run, moments carried or not."""
    import torch
    import torch.nn.functional as F

    previous, moments, cost, curve = None, None, 0.0, []
    for st in stages:
        at = (round(SIZE[0] * st["scale"]), round(SIZE[1] * st["scale"]))
        objective = make_objective(
            ops, ops.preprocess(content, at), ops.preprocess(style, at), CONTENT_LAYERS, STYLE_LAYERS
        )
        X = ops.preprocess(content if previous is None else previous, at)
        trainer = ops.trainer(
            ops.synthesized_image(X), objective, st["lr"], st.get("every", 10**6), st.get("factor", 1.0)
        )
        param = trainer.params[0]
        if carry and moments is not None:
            m, v, k, scale = moments
            f = (scale / st["scale"]) ** 2
            m_up = F.interpolate(m, size=at, mode="bilinear", align_corners=False) * f
            v_up = F.interpolate(v, size=at, mode="bilinear", align_corners=False).clamp_min(0) * f * f
            trainer.optimizer.state[param] = {"step": torch.tensor(k), "exp_avg": m_up, "exp_avg_sq": v_up}
        for i in range(1, st["steps"] + 1):
            trainer.step()
            cost += st["scale"] ** 2
            if st["scale"] == 1.0 and i % every == 0:
                curve.append((i, round(cost, 2), judge(trainer.image())))
        state = trainer.optimizer.state[param]
        moments = (
            state["exp_avg"].detach().clone(),
            state["exp_avg_sq"].detach().clone(),
            float(state["step"]),
            st["scale"],
        )
        previous = ops.postprocess(trainer.image())
    return curve


def main() -> None:
    """Run every candidate, print and write its curve."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("candidates")
    p.add_argument("--every", type=int, default=2)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    ops = load_backend("torch")
    content, style = (images.load_image(samples.sample_path(name)) for name in (samples.CONTENT, samples.STYLE))
    objective = make_objective(
        ops, ops.preprocess(content, SIZE), ops.preprocess(style, SIZE), CONTENT_LAYERS, STYLE_LAYERS
    )

    def judge(X: Any) -> float:
        """The image's judged loss (8-bit, as saved) over the recipe's."""
        return float(objective(ops.preprocess(ops.postprocess(X), SIZE))[3]) / RECIPE_LOSS["bundled"]

    results = []
    for cand in json.loads(Path(args.candidates).read_text()):
        curve = run(ops, content, style, judge, cand["stages"], cand.get("carry", False), args.every)
        results.append({**cand, "curve [full-size step, cost, loss]": curve})
        print(json.dumps(results[-1])[-300:], flush=True)
    Path(args.out).write_text(json.dumps({"machine": versions(), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
