"""What one Adam step costs at each stage's size of a coarse-to-fine preset, per backend, in one process each.

For every stage of the preset (default: fast) at the final size (default the recipe's 300x450), on the bundled
pair: the stage's set-up (content and style targets, a new trainer) and its first steps, each timed alone; the
backends take turns stage by stage, so that all see the same spells of a shared machine's load. Then what each
schedule's steps add up to (the steady step times x the stages' steps), for the preset and for --compare, a
preset whose stages are given as scale:steps,... (the three-stage fast preset by default). Usage:

    python benchmarks/stage_steps.py --backends torch,mxnet,jax --out benchmarks/results/stage_steps_<cpu>.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from common.core.interface import load_backend  # noqa: E402
from common.core.objective import make_objective  # noqa: E402
from common.core.recipe import CONTENT_LAYERS, SIZE, STYLE_LAYERS  # noqa: E402
from common.jobs import images, presets, samples  # noqa: E402
from common.jobs.record import versions  # noqa: E402
from common.studies.bench import timed_steps  # noqa: E402

STEPS = 3  # the first (warm-up, and JAX's compilation) and two more


def stage_times(ops: Any, content: Any, style: Any, at: tuple[int, int]) -> dict:
    """Seconds of the set-up and of each of STEPS steps at size ``at``."""
    start = time.perf_counter()
    objective = make_objective(
        ops, ops.preprocess(content, at), ops.preprocess(style, at), CONTENT_LAYERS, STYLE_LAYERS
    )
    trainer = ops.trainer(ops.synthesized_image(ops.preprocess(content, at)), objective, 0.01, 10**6, 1.0)
    setup = time.perf_counter() - start
    steps = timed_steps(trainer, 0, STEPS)  # freed memory kept, as in a run
    return {"setup": setup, "steps": steps}


def main() -> None:
    """Time every backend at every stage's size, print a table, write the results."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default="torch,jax")
    p.add_argument("--preset", default="fast")
    p.add_argument("--compare", default="0.25:200,0.5:100,1:35", help="scale:steps,... of another schedule")
    p.add_argument("--out", default="")
    args = p.parse_args()
    stages = [(st.scale, st.steps) for st in presets.get(args.preset).values["stages"]]
    other = [(float(a), int(b)) for a, b in (x.split(":") for x in args.compare.split(","))]
    scales = sorted({s for s, _ in stages + other})
    content, style = (images.load_image(samples.sample_path(name)) for name in (samples.CONTENT, samples.STYLE))
    names = args.backends.split(",")
    backends = {name: load_backend(name) for name in names}
    times: dict[str, dict[float, dict]] = {name: {} for name in names}
    for i, scale in enumerate(scales):
        at = (round(SIZE[0] * scale), round(SIZE[1] * scale))
        for name in names if i % 2 == 0 else names[::-1]:
            times[name][scale] = stage_times(backends[name], content, style, at)
    rows = ["| backend | " + " | ".join(f"{s:g}" for s in scales) + f" | {args.preset} | {args.compare} |"]
    rows.append("|---|" + "---:|" * (len(scales) + 2))
    results = []
    for name in names:
        steady = {s: min(t["steps"][1:]) for s, t in times[name].items()}
        total = {key: sum(steady[s] * n for s, n in sched) for key, sched in (("preset", stages), ("compare", other))}
        cells = [f"{steady[s]:.3f} s (set-up {times[name][s]['setup']:.1f})" for s in scales]
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {total['preset']:.0f} s | {total['compare']:.0f} s |")
        results.append({"backend": name, "times": {str(s): t for s, t in times[name].items()}, "steps_total": total})
    print("\n".join(rows))
    if args.out:
        meta = {"size": list(SIZE), "preset": args.preset, "stages": stages, "compare": other}
        Path(args.out).write_text(json.dumps({"machine": versions(), **meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
