"""Seconds per optimization step: each backend beside the source documents' own code, in one run.

Every contender runs in a fresh process (so thread settings and caches do not leak between them), on the
same seeded random VGG-19 weights and the same random content and style images, d2l settings (layers
0,5,10,19,28 and 25, weights 1/1e4/10, Adam). Each process times --steps steps after --warmup steps. The
contenders run in --rounds interleaved rounds (the order reversed every other round), each round beginning with
a measurement of the fp32 matmul peak, so that all of them, and the peak, see the same spells of a shared
machine's load; the median of all timed steps is reported, and the FLOP floor divides the step's FLOPs by the
median of the rounds' peaks. Usage:

    python benchmarks/step_time.py                      # 150x225 and 300x450, writes benchmarks/results/step_time.json
    python benchmarks/step_time.py --sizes 300x450 --steps 5 --rounds 1
    python benchmarks/step_time.py --sizes 300x450 --contenders torch,torch-glibc,mxnet,mxnet-glibc,jax,jax-glibc
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CONTENDERS = {
    "torch": "this project's torch backend",
    "torch-documents": "d2l PyTorch code as written",
    "mxnet": "this project's mxnet backend",
    "mxnet-documents": "d2l MXNet code as written (MXNet's default threads)",
    "mxnet-documents-threads": "d2l MXNet code as written, OMP_NUM_THREADS = cores",
    "jax": "this project's jax backend (compiled in the warmup steps)",
    "torch-glibc": "torch backend, freed memory given back (NST_KEEP_FREED_MEMORY=0)",
    "mxnet-glibc": "mxnet backend, freed memory given back (NST_KEEP_FREED_MEMORY=0)",
    "jax-glibc": "jax backend, freed memory given back (NST_KEEP_FREED_MEMORY=0)",
    "floor": "FLOP floor: FLOPs per step / measured fp32 matmul peak",
}


def measure(contender: str, h: int, w: int, warmup: int, steps: int) -> list[float]:
    """Run in this process: seconds of each timed step of one contender."""
    import numpy as np

    sys.path[:0] = [str(ROOT), str(HERE)]
    import common

    rng = np.random.default_rng(0)
    content_px, style_px = (rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(2))
    if contender.endswith("-documents") or contender.endswith("-documents-threads"):
        import documents

        framework = contender.split("-")[0]
        content, style = (common.core.reference.preprocess(p).astype(np.float32) for p in (content_px, style_px))
        step = getattr(documents, f"{framework}_step_factory")(common.random_vgg19(0), content, style)
    else:
        ops = common.load_backend(contender.removesuffix("-glibc"))
        s = common.Settings()
        names = tuple(dict.fromkeys(s.content_layers + s.style_layers))
        net = ops.vgg19("random", seed=0, upto="conv5_1")
        content, style = ops.to_tensor(content_px), ops.to_tensor(style_px)
        objective = common.Objective(
            ops,
            ops.feature_extractor(net, names),
            s.content_layers,
            s.style_layers,
            content,
            style,
            common.LossWeights(),
        )
        step = ops.trainer(ops.synthesized_image(content), objective, 0.3, 50, 0.8).step
    times = []
    # freed memory kept as in an nst run (NST_KEEP_FREED_MEMORY=0 for the -glibc contenders), never for the documents
    documents_code = contender.endswith("-documents") or contender.endswith("-documents-threads")
    with contextlib.nullcontext() if documents_code else common.core.allocator.kept_memory():
        for _ in range(warmup):
            step()
        for _ in range(steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
    return times


def run_contender(contender: str, h: int, w: int, warmup: int, steps: int) -> list[float]:
    """Measure one contender in a fresh Python process."""
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if contender.endswith("-threads"):
        env["OMP_NUM_THREADS"] = str(len(os.sched_getaffinity(0)))
    env["NST_KEEP_FREED_MEMORY"] = "0" if contender.endswith("-glibc") else "1"
    argv = [sys.executable, __file__, "--child", contender, f"{h}x{w}", str(warmup), str(steps)]
    r = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{contender} {h}x{w} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure every contender at every size and print a Markdown table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="150x225,300x450")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=4, help="timed steps per contender and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--contenders", default=",".join(c for c in CONTENDERS if c != "floor" and "glibc" not in c))
    p.add_argument("--out", default=str(HERE / "results" / "step_time.json"))
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        contender, size, warmup, steps = args.child
        h, w = map(int, size.split("x"))
        print(json.dumps(measure(contender, h, w, int(warmup), int(steps))))
        return

    sys.path.insert(0, str(ROOT))
    from common.studies.peak import matmul_peak

    sizes = [tuple(map(int, size.split("x"))) for size in args.sizes.split(",")]
    contenders = args.contenders.split(",")
    times: dict[tuple[str, tuple[int, int]], list[float]] = {(c, s): [] for s in sizes for c in contenders}
    peaks = []
    for r in range(args.rounds):
        peaks.append(matmul_peak("fp32", seconds=1))
        print(f"round {r + 1}: fp32 matmul peak {peaks[-1]:.0f} GFLOP/s", file=sys.stderr)
        for h, w in sizes:
            for contender in contenders if r % 2 == 0 else contenders[::-1]:
                steps = run_contender(contender, h, w, args.warmup, args.steps)
                times[contender, (h, w)] += steps
                print(f"  {contender:26s} {h}x{w}: {statistics.median(steps):.3f} s/step", file=sys.stderr)
    results = [
        {
            "contender": c,
            "size": list(size),
            "median": statistics.median(steps),
            "min": min(steps),
            "max": max(steps),
            "steps": steps,
        }
        for (c, size), steps in times.items()
    ]
    machine = machine_and_floors(sizes, peaks, args.rounds, results)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(table(results, machine))


def machine_and_floors(sizes: list[tuple[int, int]], peaks: list[float], rounds: int, results: list[dict]) -> dict:
    """The machine's description (with the median peak), and a FLOP-floor row per size appended to results."""
    import importlib

    from common.core.recipe import CONTENT_LAYERS, STYLE_LAYERS
    from common.core.registry import BACKENDS, is_installed
    from common.jobs.record import versions
    from common.studies.flops import step_flops

    machine = versions()
    machine.update(
        **{
            name: importlib.import_module(module).__version__
            for name, (module, _) in BACKENDS.items()
            if is_installed(name)
        },
        rounds=rounds,
        fp32_matmul_gflops_per_round=peaks,
        fp32_matmul_gflops=statistics.median(peaks),
    )
    for size in sizes:  # the FLOP floor: FLOPs of a step at the matmul peak
        flops = step_flops(size, CONTENT_LAYERS, STYLE_LAYERS)["total"]
        results.append(
            {"contender": "floor", "size": list(size), "median": flops / 1e9 / machine["fp32_matmul_gflops"]}
        )
    return machine


def table(results: list[dict], machine: dict) -> str:
    """A Markdown table: median seconds per step, and each backend's ratio to the documents' code."""
    from common.core.registry import NAMES

    med = {(r["contender"], tuple(r["size"])): r["median"] for r in results}
    sizes = sorted({tuple(r["size"]) for r in results})
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores; "
        + ", ".join(f"{name} {machine[name]}" for name in NAMES if name in machine)
        + "; "
        f"measured fp32 matmul peak {machine.get('fp32_matmul_gflops', float('nan')):.0f} GFLOP/s"
        f" (median of {machine.get('rounds', 1)} rounds).",
        "",
        "| contender | " + " | ".join(f"{h}x{w} s/step" for h, w in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for c, label in CONTENDERS.items():
        if any((c, s) in med for s in sizes):
            lines.append(
                f"| {label} | " + " | ".join(f"{med[c, s]:.3f}" if (c, s) in med else "" for s in sizes) + " |"
            )
    pairs = [("torch", "torch-documents"), ("mxnet", "mxnet-documents"), *((name, "torch") for name in NAMES[1:])]
    pairs += [(name, f"{name}-glibc") for name in NAMES]
    for ours, docs in [*pairs, *((name, "floor") for name in NAMES)]:
        if all((c, s) in med for c in (ours, docs) for s in sizes):
            ratios = " | ".join(f"{med[ours, s] / med[docs, s]:.2f}x" for s in sizes)
            lines.append(f"| {ours} / {docs} | {ratios} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
