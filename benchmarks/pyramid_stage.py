"""Adam on a Laplacian pyramid of the image: does it make the full-size stage cheaper? (torch only, measurement)

The fast preset's full-size stage moves every pixel by about its learning rate per Adam step, so structure larger
than a few pixels moves slowly. Here the image is a sum of levels, the full-size one and levels of 1/2, 1/4, ...
of its size upsampled bilinearly to it, each a parameter of the same Adam: a step moves coarse structure as fast
as fine. Each case runs from the fast preset's first three stages' result (as the preset does, judged alike) or
from the content image, and is judged every --every steps by the d2l objective at full size on the 8-bit image,
relative to the d2l recipe's final loss, beside the preset's own full-size stage (plain Adam, lr 0.01) from the
same start. Cost is in full-size step equivalents, as in fast_schedules.py. Usage:

    python benchmarks/pyramid_stage.py --out benchmarks/results/pyramid_stage_<cpu>.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from fast_preset import pair_files  # noqa: E402
from fast_schedules import cost, prefix_result  # noqa: E402

from common.core.interface import load_backend  # noqa: E402
from common.core.objective import make_objective  # noqa: E402
from common.core.recipe import CONTENT_LAYERS, SIZE, STYLE_LAYERS  # noqa: E402
from common.jobs import images  # noqa: E402
from common.jobs.presets import FAST_STAGES  # noqa: E402
from common.jobs.record import versions  # noqa: E402

REFERENCE = {"bundled": 0.6456432938575745, "astronaut-coffee": 0.6098}  # the d2l recipe's final loss (torch)
CASES = [  # start, learning rate per level (full size first; one level: plain Adam), steps, decay (every, factor)
    {"start": "prefix", "lrs": [0.01], "steps": 24},  # the fast preset's full-size stage
    {"start": "prefix", "lrs": [0.01, 0.01, 0.01, 0.01], "steps": 24},
    {"start": "prefix", "lrs": [0.005, 0.02, 0.04], "steps": 24},
    {"start": "content", "lrs": [0.1, 0.1, 0.1, 0.1], "steps": 90, "decay": [30, 0.5]},
]


def descend(torch: Any, objective: Any, start: Any, case: dict, every: int, judge: Any) -> list[tuple[int, float]]:
    """(step, judged loss) every ``every`` steps of Adam on the pyramid's levels from ``start``."""
    import torch.nn.functional as F

    _, _, h, w = start.shape
    levels = [start.detach().clone().requires_grad_(True)] + [
        torch.zeros(1, 3, -(-h // 2**k), -(-w // 2**k), requires_grad=True) for k in range(1, len(case["lrs"]))
    ]
    adam = torch.optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(levels, case["lrs"], strict=True)])
    decay_every, factor = case.get("decay", (10**9, 1.0))
    schedule = torch.optim.lr_scheduler.StepLR(adam, decay_every, factor)

    def image() -> Any:
        up = (F.interpolate(p, size=(h, w), mode="bilinear", align_corners=False) for p in levels[1:])
        return levels[0] + sum(up, torch.zeros_like(levels[0]))

    curve = []
    for k in range(1, case["steps"] + 1):
        adam.zero_grad()
        objective(image())[3].backward()
        adam.step()
        schedule.step()
        if k % every == 0:
            with torch.no_grad():
                curve.append((k, judge(image())))
    return curve


def main() -> None:
    """Run every case on every pair, print each case's last point, write the curves."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", default="bundled,astronaut-coffee")
    p.add_argument("--every", type=int, default=4)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    import torch

    ops = load_backend("torch")
    prefix = list(FAST_STAGES[:-1])
    results = []
    for pair in args.pairs.split(","):
        content_file, style_file = pair_files(pair)
        content = ops.preprocess(images.load_image(content_file), SIZE)
        style = ops.preprocess(images.load_image(style_file), SIZE)
        objective = make_objective(ops, content, style, CONTENT_LAYERS, STYLE_LAYERS)

        def judge(X: Any, objective: Any = objective, pair: str = pair) -> float:
            """The d2l objective of X written as 8-bit, over the recipe's final loss."""
            return float(objective(ops.preprocess(ops.postprocess(X), SIZE))[3]) / REFERENCE[pair]

        start = ops.preprocess(
            prefix_result(ops, "torch", SIZE, prefix, {"content": content_file, "style": (style_file,)}), SIZE
        )
        for case in CASES:
            begin, spent = (start, cost(prefix, 10**9)) if case["start"] == "prefix" else (content, 0.0)
            curve = descend(torch, objective, begin, case, args.every, judge)
            results.append({"pair": pair, **case, "start_cost": spent, "start_loss": judge(begin), "curve": curve})
            print(pair, case, [round(loss, 4) for _, loss in curve], flush=True)
    Path(args.out).write_text(json.dumps({"machine": versions(), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
