"""Adam on a Laplacian pyramid of the image: does it make the full-size stage cheaper? (torch only, measurement)

The fast preset's full-size stage moves every pixel by about its learning rate per Adam step, so structure larger
than a few pixels moves slowly. Here the image is a sum of levels, the full-size one and levels of 1/2, 1/4, ...
of its size upsampled bilinearly to it, each a parameter of the same Adam: a step moves coarse structure as fast
as fine. Each case runs from the first three stages of the fast preset as it was (fast_schedules.FOUR_STAGES) or
from the content image, and is judged every --every steps by the d2l objective at full size on the 8-bit image,
relative to the d2l recipe's final loss, beside the preset's own full-size stage (plain Adam, lr 0.01) from the
same start. Cost is in full-size step equivalents, as in fast_schedules.py. With --time ROUNDS it judges nothing
and times instead what a pyramid step costs beside a plain one (4 levels against 1, the bundled pair at the
recipe's size, float32, freed memory kept as in a run), the two taking turns for ROUNDS rounds of one untimed and
5 timed steps each. Usage:

    python benchmarks/pyramid_stage.py --out benchmarks/results/pyramid_stage_<cpu>.json
    python benchmarks/pyramid_stage.py --time 5 --out benchmarks/results/pyramid_step_time_<cpu>.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from fast_preset import pair_files  # noqa: E402
from fast_schedules import FOUR_STAGES, RECIPE_LOSS, cost, prefix_result  # noqa: E402

from common.core.allocator import kept_memory  # noqa: E402
from common.core.interface import load_backend  # noqa: E402
from common.core.objective import make_objective  # noqa: E402
from common.core.recipe import CONTENT_LAYERS, SIZE, STYLE_LAYERS  # noqa: E402
from common.jobs import images  # noqa: E402
from common.jobs.record import versions  # noqa: E402

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


def step_times(torch: Any, objective: Any, start: Any, rounds: int) -> dict[str, list[float]]:
    """Seconds per step of plain Adam (1 level) and of the 4-level pyramid, taking turns, 5 timed steps a turn."""
    times: dict[str, list[float]] = {"plain": [], "pyramid": []}
    for _ in range(rounds):
        for name, lrs in (("plain", [0.01]), ("pyramid", [0.01] * 4)):
            descend(torch, objective, start, {"lrs": lrs, "steps": 1}, 10**9, None)  # untimed
            begin = time.perf_counter()
            descend(torch, objective, start, {"lrs": lrs, "steps": 5}, 10**9, None)
            times[name].append((time.perf_counter() - begin) / 5)
    return times


def main() -> None:
    """Run every case on every pair, print each case's last point, write the curves."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", default="bundled,astronaut-coffee")
    p.add_argument("--every", type=int, default=4)
    p.add_argument("--cases", help="a JSON file of cases (default: CASES); start: prefix, content or n (stages)")
    p.add_argument("--time", type=int, default=0, metavar="ROUNDS", help="time steps instead of judging them")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    import torch

    ops = load_backend("torch")
    if args.time:
        content_file, style_file = pair_files("bundled")
        content, style = (ops.preprocess(images.load_image(f), SIZE) for f in (content_file, style_file))
        with kept_memory():  # as the optimization loop runs
            objective = make_objective(ops, content, style, CONTENT_LAYERS, STYLE_LAYERS)
            times = step_times(torch, objective, content, args.time)
        medians = {name: statistics.median(seconds) for name, seconds in times.items()}
        print(medians, f"pyramid / plain: {medians['pyramid'] / medians['plain']:.3f}")
        out = {"machine": versions(), "size": SIZE, "seconds_per_step": times, "medians": medians}
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
        return
    cases = json.loads(Path(args.cases).read_text()) if args.cases else CASES
    results = []
    for pair in args.pairs.split(","):
        content_file, style_file = pair_files(pair)
        content = ops.preprocess(images.load_image(content_file), SIZE)
        style = ops.preprocess(images.load_image(style_file), SIZE)
        objective = make_objective(ops, content, style, CONTENT_LAYERS, STYLE_LAYERS)

        def judge(X: Any, objective: Any = objective, pair: str = pair) -> float:
            """The d2l objective of X written as 8-bit, over the recipe's final loss."""
            return float(objective(ops.preprocess(ops.postprocess(X), SIZE))[3]) / RECIPE_LOSS[pair]

        starts: dict[int, Any] = {0: content}  # the result of the preset's first n stages, by n
        for case in cases:
            n = 3 if case["start"] == "prefix" else 0 if case["start"] == "content" else int(case["start"])
            if n not in starts:
                files = {"content": content_file, "style": (style_file,)}
                starts[n] = ops.preprocess(prefix_result(ops, "torch", SIZE, list(FOUR_STAGES[:n]), files), SIZE)
            spent = cost(list(FOUR_STAGES[:n]), 10**9)
            curve = descend(torch, objective, starts[n], case, args.every, judge)
            results.append({"pair": pair, **case, "start_cost": spent, "start_loss": judge(starts[n]), "curve": curve})
            print(pair, case, [round(loss, 4) for _, loss in curve], flush=True)
    Path(args.out).write_text(json.dumps({"machine": versions(), "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
