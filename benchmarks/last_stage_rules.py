"""The fast preset's full-size stage under other update rules: does anything beat Adam at lr 0.01 there?

Adam's first steps move every pixel by about its learning rate (m / sqrt(v) is +-1 at step 1), which is why the
full-size stage starts with a rise of the judged loss and why the preset runs it at lr 0.01 (docs/speed.md). This
runs the preset's first stages once (or --prefix), then each rule of RULES for --steps full-size steps from that
result, judging the 8-bit image every 2 steps by the d2l objective at full size over the recipe's final loss, as
benchmarks/fast_schedules.py does. The rules are numpy arithmetic on the backend's gradient, so every backend runs
the same ones:

- adam: Adam as torch.optim.Adam computes it (the check that this loop is the trainer's);
- adam-warmup: Adam with the learning rate raised linearly to its value over the first `warmup` steps, then
  x `decay` per step;
- adam-global-v: Adam whose second moment starts at the gradient's mean square (no bias correction for it), so
  the first steps follow the gradient's direction instead of its sign;
- adam-eps: Adam with epsilon `eps` times the first gradient's root mean square, which damps pixels whose
  gradients are small;
- ngd: gradient descent normalized to a root-mean-square step of lr (with momentum `momentum`).

Usage: python benchmarks/last_stage_rules.py --out benchmarks/results/last_stage_rules_<cpu>.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fast_schedules import FOUR_STAGES, RECIPE_LOSS, cost, prefix_result  # noqa: E402

from common.core.interface import load_backend  # noqa: E402
from common.core.objective import make_objective  # noqa: E402
from common.core.recipe import CONTENT_LAYERS, SIZE, STYLE_LAYERS  # noqa: E402
from common.jobs import images, samples  # noqa: E402
from common.jobs.record import versions  # noqa: E402

RULES = (
    {"rule": "adam", "lr": 0.01},
    {"rule": "adam-warmup", "lr": 0.03, "warmup": 6},
    {"rule": "adam-warmup", "lr": 0.05, "warmup": 8, "decay": 0.93},
    {"rule": "adam-warmup", "lr": 0.1, "warmup": 10, "decay": 0.9},
    {"rule": "adam-global-v", "lr": 0.01},
    {"rule": "adam-global-v", "lr": 0.02},
    {"rule": "adam-eps", "lr": 0.02, "eps": 0.3},
    {"rule": "ngd", "lr": 0.01},
    {"rule": "ngd", "lr": 0.01, "momentum": 0.8},
)
BETA1, BETA2 = 0.9, 0.999


def run_rule(
    ops: Any, objective: Any, start: np.ndarray, rule: dict, steps: int, judge: Callable[[Any], float]
) -> list[tuple[int, float]]:
    """(step, loss) every 2 steps of one rule from the preprocessed image ``start``."""
    x, m, v, eps, curve = start.copy(), np.zeros_like(start), None, 1e-8, []
    for k in range(1, steps + 1):
        _, grad = ops.gradient(objective, ops.asarray(x))
        g = ops.to_numpy(grad).astype(np.float64)
        warm = rule.get("warmup", 0)
        lr = rule["lr"] * (min(1.0, k / warm) if warm else 1.0) * rule.get("decay", 1.0) ** max(0, k - warm)
        if rule["rule"] == "ngd":
            m = rule.get("momentum", 0.0) * m + g
            x = x - lr * m / np.sqrt((m * m).mean())
        else:
            if v is None:
                v = np.full_like(g, (g * g).mean()) if rule["rule"] == "adam-global-v" else np.zeros_like(g)
                eps = rule.get("eps", 0.0) * float(np.sqrt((g * g).mean())) or 1e-8
            m = BETA1 * m + (1 - BETA1) * g
            v = BETA2 * v + (1 - BETA2) * g * g
            v_hat = v if rule["rule"] == "adam-global-v" else v / (1 - BETA2**k)
            x = x - lr / (1 - BETA1**k) * m / (np.sqrt(v_hat) + eps)
        x = x.astype(start.dtype)
        if k % 2 == 0:
            curve.append((k, judge(ops.postprocess(ops.asarray(x)))))
    return curve


def main() -> None:
    """Run the prefix once, then every rule from its result; write the curves, print each one's last point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="torch")
    p.add_argument("--steps", type=int, default=24, help="full-size steps per rule (the preset's: 24)")
    p.add_argument("--reference", type=float, default=RECIPE_LOSS["bundled"], help="the d2l recipe's final loss")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    ops = load_backend(args.backend)
    paths = (samples.sample_path(samples.CONTENT), samples.sample_path(samples.STYLE))
    content, style = (images.load_image(path) for path in paths)
    objective = make_objective(
        ops, ops.preprocess(content, SIZE), ops.preprocess(style, SIZE), CONTENT_LAYERS, STYLE_LAYERS
    )

    def judge(image: Any) -> float:
        """The image's judged loss over the recipe's."""
        return float(ops.to_numpy(objective(ops.preprocess(image, SIZE))[3])) / args.reference

    prefix = list(FOUR_STAGES[:-1])
    pair = {"content": str(paths[0]), "style": (str(paths[1]),)}
    start_image = prefix_result(ops, args.backend, SIZE, prefix, pair)
    start = ops.to_numpy(ops.preprocess(start_image, SIZE))
    results = {"prefix_cost": cost(prefix, 10**9), "prefix_loss": judge(start_image), "rules": []}
    for rule in RULES:
        curve = run_rule(ops, objective, start, rule, args.steps, judge)
        results["rules"].append({**rule, "curve": curve})
        print(json.dumps(rule), [round(loss, 4) for _, loss in curve[-3:]], flush=True)
    Path(args.out).write_text(json.dumps({"machine": versions(), **results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
