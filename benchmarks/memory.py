"""Peak memory of nst stylize against image size: measured, fitted, and the largest image that fits.

Each run is a fresh process (`cli.py stylize --steps 2`), whose peak resident set size the operating system
reports (os.wait4). The fit is RSS = base + factor x (bytes of VGG-19's activations up to the deepest layer),
which is linear in the pixel count; its coefficients are what common/memory.py uses to refuse a run that would
not fit. Usage:

    python benchmarks/memory.py                    # writes benchmarks/results/memory.json, prints a table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from common.jobs import memory  # noqa: E402
from common.jobs.record import versions  # noqa: E402

SIZES = ((128, 128), (256, 256), (384, 576), (512, 768), (768, 1024))


def peak_rss(argv: list[str]) -> int:
    """Peak resident set size, in bytes, of a command run to completion."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed: {proc.stderr.read().decode()[-500:]}")
    return usage.ru_maxrss * 1024


def measure(backend: str, dtype: str, precision: str, sizes: list[tuple[int, int]], tmp: str) -> dict:
    """One mode's peaks at the given sizes (2 steps each, seeded random weights) and their fit."""
    points = []
    for h, w in sizes:
        argv = [sys.executable, str(ROOT / "cli.py"), "stylize", "--backend", backend, "--size", str(h), str(w)]
        argv += ["--steps", "2", "--weights", "random", "--dtype", dtype, "--precision", precision, "--quiet"]
        rss = peak_rss([*argv, "--output", f"{tmp}/o.png"])
        points.append({"size": [h, w], "rss": rss, "activations": memory.activation_bytes((h, w), dtype)})
        print(f"{backend} {dtype}/{precision} {h}x{w}: {rss / 2**30:.2f} GiB", file=sys.stderr)
    base, factor = memory.fit([pt["activations"] for pt in points], [pt["rss"] for pt in points])
    return {
        "backend": backend,
        "dtype": dtype,
        "precision": precision,
        "points": points,
        "base": base,
        "factor": factor,
    }


def main() -> None:
    """Measure, fit, report."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default="torch,mxnet")
    p.add_argument("--modes", default="float32/fp32,float32/bf16,float64/fp32")
    p.add_argument("--out", default=str(HERE / "results" / "memory.json"))
    p.add_argument(
        "--sizes",
        default=",".join(f"{h}x{w}" for h, w in SIZES),
        help="HxW,... (default: the five of the table); a mode whose run would not fit in memory is cut short with "
        "--largest",
    )
    p.add_argument("--largest", default="", help="backend/dtype/precision=HxW,...: the largest size measured there")
    p.add_argument("--table", action="store_true", help="print the table of the results in --out, measure nothing")
    args = p.parse_args()
    if args.table:
        saved = json.loads(Path(args.out).read_text())
        print(table(saved["results"], saved["machine"]))
        return
    sizes = [tuple(map(int, x.split("x"))) for x in args.sizes.split(",")]
    largest = {k: tuple(map(int, v.split("x"))) for k, v in (x.split("=") for x in args.largest.split(",") if x)}
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            for mode in args.modes.split(","):
                dtype, precision = mode.split("/")
                cap = largest.get(f"{backend}/{dtype}/{precision}")
                todo = sizes if cap is None else [s for s in sizes if s[0] * s[1] <= cap[0] * cap[1]]
                results.append(measure(backend, dtype, precision, todo, tmp))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": versions(), "results": results}, indent=2) + "\n")
    print(table(results, versions()))


def table(results: list[dict], machine: dict) -> str:
    """Measured peaks, how far the linear fit is from them at worst, and the largest 4:3 image in 24 GiB."""
    sizes = sorted({tuple(pt["size"]) for r in results for pt in r["points"]}, key=lambda s: s[0] * s[1])
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores",
        "",
        "| backend | dtype / precision | GiB at "
        + " | ".join(f"{h}x{w}" for h, w in sizes)
        + " | fit: worst error | largest 4:3 image in 24 GiB |",
        "|---|---|" + "---:|" * (len(sizes) + 2),
    ]
    for r in results:
        rss = {tuple(pt["size"]): pt["rss"] for pt in r["points"]}
        cells = " | ".join(f"{rss[s] / 2**30:.2f}" if s in rss else "" for s in sizes)
        fitted = [
            r["base"] + r["factor"] * memory.activation_bytes(tuple(pt["size"]), r["dtype"]) for pt in r["points"]
        ]
        worst = max(abs(f - pt["rss"]) / pt["rss"] for f, pt in zip(fitted, r["points"], strict=True))
        h, w = memory.largest_size(24 * 2**30, r["base"], r["factor"], r["dtype"], aspect=3 / 4)
        lines.append(f"| {r['backend']} | {r['dtype']} / {r['precision']} | {cells} | {worst:.1%} | {h}x{w} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
