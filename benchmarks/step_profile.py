"""Where a torch step's time goes, fp32 and bf16: the measured reason behind its distance from the FLOP floor.

One fresh process per precision (interleaved over --rounds, the order reversed every other round), each running the
torch backend's d2l step (seeded random VGG-19, random 8-bit content and style images, Adam) under torch.profiler.
Every operator's own CPU time is put in one of a few kinds: convolutions forward and backward (the FLOPs), the
Gram and loss matrix products, pooling, ReLU, and the rest (element-wise, copies, layout changes, the optimizer).
Beside it, the matmul peak in the same precision, measured in the same process: the convolutions' GFLOP/s over it
says how close the kernels come to the hardware, and the other kinds are time that no faster kernel removes.
Usage:

    python benchmarks/step_profile.py                 # 300x450, writes benchmarks/results/step_profile_<cpu>.json
    python benchmarks/step_profile.py --size 64x96 --steps 1 --rounds 1 --out /tmp/p.json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# operator name (aten::..., mkldnn ...) -> kind; the first pattern that matches decides
KINDS = (
    ("convolution", r"conv|mkldnn_convolution"),
    ("matmul (Gram, losses)", r"::(mm|bmm|matmul|addmm|linear)$"),
    ("pooling", r"pool"),
    ("relu", r"relu|threshold"),
)
PRECISIONS = ("fp32", "bf16")


def kind(name: str) -> str:
    """The kind of an operator, by its name."""
    return next((k for k, pattern in KINDS if re.search(pattern, name)), "other")


def measure(precision: str, h: int, w: int, warmup: int, steps: int) -> dict:
    """In this process: per kind, seconds of own CPU time per step; the step's wall time; the matmul peak."""
    import time

    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    sys.path.insert(0, str(ROOT))
    import common
    from common.studies.peak import matmul_peak

    ops = common.load_backend("torch")
    s = common.Settings()
    names = tuple(dict.fromkeys(s.content_layers + s.style_layers))
    net = ops.vgg19("random", seed=0, upto="conv5_1")
    rng = np.random.default_rng(0)
    content, style = (ops.to_tensor(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for _ in range(2))
    extractor = ops.feature_extractor(net, names, precision=precision)
    objective = common.Objective(ops, extractor, s.content_layers, s.style_layers, content, style, common.LossWeights())
    step = ops.trainer(ops.synthesized_image(content), objective, 0.3, 50, 0.8).step
    walls = []
    with common.core.allocator.kept_memory():  # as in an nst run
        for _ in range(warmup):
            step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                began = time.perf_counter()
                step()
                walls.append(time.perf_counter() - began)
    seconds: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        seconds[kind(event.key)] += event.self_cpu_time_total / 1e6 / steps
    return {
        "wall": statistics.median(walls),
        "kinds": dict(seconds),
        "peak": matmul_peak(precision, seconds=1),
        "threads": torch.get_num_threads(),
    }


def run_child(precision: str, h: int, w: int, warmup: int, steps: int) -> dict:
    """measure() in a fresh Python process."""
    argv = [sys.executable, __file__, "--child", precision, f"{h}x{w}", str(warmup), str(steps)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{precision} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(runs: list[dict], flops: float) -> dict:
    """The median over rounds of each figure, the convolutions' GFLOP/s and their fraction of the peak."""
    kinds = {k: statistics.median(r["kinds"].get(k, 0.0) for r in runs) for k in {*runs[0]["kinds"]}}
    own = sum(kinds.values())
    wall, peak = statistics.median(r["wall"] for r in runs), statistics.median(r["peak"] for r in runs)
    conv = kinds.get("convolution", 0.0) / own * wall  # own CPU time is summed over threads: scale to the wall
    return {
        "wall": wall,
        "peak_gflops": peak,
        "floor": flops / 1e9 / peak,
        "share": {k: v / own for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
        "convolution_gflops": flops / 1e9 / conv if conv else None,
    }


def main() -> None:
    """Profile each precision over interleaved rounds, write the results, print a table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="300x450")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--precisions", default=",".join(PRECISIONS))
    p.add_argument("--out", default="")
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        precision, size, warmup, steps = args.child
        h, w = map(int, size.split("x"))
        print(json.dumps(measure(precision, h, w, int(warmup), int(steps))))
        return
    sys.path.insert(0, str(ROOT))
    from common.core.recipe import CONTENT_LAYERS, STYLE_LAYERS
    from common.jobs.record import versions
    from common.studies.flops import step_flops

    h, w = map(int, args.size.split("x"))
    precisions = args.precisions.split(",")
    runs: dict[str, list[dict]] = {pr: [] for pr in precisions}
    for r in range(args.rounds):
        for precision in precisions if r % 2 == 0 else precisions[::-1]:
            runs[precision].append(run_child(precision, h, w, args.warmup, args.steps))
            print(f"round {r + 1} {precision}: {runs[precision][-1]['wall']:.3f} s/step", file=sys.stderr)
    flops = step_flops((h, w), CONTENT_LAYERS, STYLE_LAYERS)["total"]
    machine = versions()
    results = {pr: summary(rs, flops) for pr, rs in runs.items()}
    slug = re.sub(r"[^a-z0-9]+", "_", machine["cpu"].lower()).strip("_")
    out = Path(args.out or HERE / "results" / f"step_profile_{slug}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "size": [h, w], "results": results, "runs": runs}, indent=2) + "\n")
    print(table(results, machine, (h, w)))


def table(results: dict[str, dict], machine: dict, size: tuple[int, int]) -> str:
    """The profile as a Markdown table, one column per precision."""
    precisions = list(results)
    kinds = sorted({k for r in results.values() for k in r["share"]}, key=lambda k: -results[precisions[0]]["share"][k])
    row = lambda label, cells: f"| {label} | " + " | ".join(cells) + " |"  # noqa: E731
    lines = [
        f"torch step at {size[0]}x{size[1]} on {machine['cpu']}, {machine['cores']} cores",
        "",
        row("", precisions),
        "|---|" + "---:|" * len(precisions),
        row("s/step", [f"{r['wall']:.3f}" for r in results.values()]),
        row("matmul peak GFLOP/s", [f"{r['peak_gflops']:.0f}" for r in results.values()]),
        row("FLOP floor s", [f"{r['floor']:.3f}" for r in results.values()]),
        row("step / floor", [f"{r['wall'] / r['floor']:.2f}x" for r in results.values()]),
        row("convolutions GFLOP/s", [f"{r['convolution_gflops']:.0f}" for r in results.values()]),
        *(row(f"share: {k}", [f"{r['share'].get(k, 0):.1%}" for r in results.values()]) for k in kinds),
    ]
    if "fp32" in results and "bf16" in results:
        lines.append(row("fp32 / bf16 speed-up", ["", f"{results['fp32']['wall'] / results['bf16']['wall']:.2f}x"]))
        peaks = results["bf16"]["peak_gflops"] / results["fp32"]["peak_gflops"]
        lines.append(row("bf16 / fp32 matmul peak (the step's ceiling)", ["", f"{peaks:.2f}x"]))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
