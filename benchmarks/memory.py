"""Peak memory of nst stylize and nst photoreal against image size: measured, fitted, and the largest image that fits.

Each run is a fresh process (`cli.py stylize --steps 2`; `cli.py photoreal --steps 2` with --method hrnet), whose
peak resident set size the operating system reports (os.wait4). The fit is RSS = base + factor x (bytes of VGG-19's
activations up to the deepest layer), which is linear in the pixel count; its coefficients, each backend's own by
method, are what common/jobs/memory.py uses to refuse a run that would not fit: they live in
backends/<name>/memory.toml, which this writes. Usage:

    python benchmarks/memory.py                    # writes benchmarks/results/memory.json and the measured modes'
                                                   # fits into backends/<name>/memory.toml, prints a table
    python benchmarks/memory.py --fit --out benchmarks/results/memory_epyc.json --modes float32/fp32,float64/fp32
                                                   # measures nothing: writes those modes' fits from saved results
    python benchmarks/memory.py --method hrnet --modes float32/fp32,float64/fp32 \
        --sizes 128x128,256x256,320x480,384x576,512x768 --out benchmarks/results/memory_photoreal.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from common.core.registry import NAMES  # noqa: E402
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


def covering_fit(points: list[dict]) -> tuple[float, float]:
    """The line whose estimate (x the margin) covers every measured peak and overestimates the worst-covered point
    least: the least-squares line and the lines through each two points, each raised where it passes below a point
    by more than the margin covers (the peak is not linear at small sizes), the one with the smallest largest
    estimate / peak."""
    xs, ys = [pt["activations"] for pt in points], [pt["rss"] for pt in points]
    lines = [memory.fit(xs, ys)]
    lines += [
        (ys[i] - (ys[j] - ys[i]) / (xs[j] - xs[i]) * xs[i], (ys[j] - ys[i]) / (xs[j] - xs[i]))
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i] and ys[j] > ys[i]
    ]

    def raised(base: float, factor: float) -> tuple[float, float]:
        return max(base, *(y / memory.MARGIN - factor * x for x, y in zip(xs, ys, strict=True))), factor

    def worst(line: tuple[float, float]) -> float:
        return max(memory.MARGIN * (line[0] + line[1] * x) / y for x, y in zip(xs, ys, strict=True))

    return min((raised(*line) for line in lines if line[1] > 0), key=worst)


def round_up(value: float, digits: int = 4) -> float:
    """``value`` rounded up to ``digits`` significant digits, so a written fit never estimates below its own."""
    unit = 10.0 ** (math.floor(math.log10(abs(value))) - digits + 1)
    return float(f"{math.ceil(value / unit - 1e-9) * unit:.{digits}g}")


COMMANDS = {"gatys": ["stylize"], "hrnet": ["photoreal"]}  # method -> the command that runs it


def measure(backend: str, dtype: str, precision: str, sizes: list[tuple[int, int]], tmp: str, method: str) -> dict:
    """One mode's peaks at the given sizes (2 steps each, seeded random weights) and their fit."""
    points = []
    for h, w in sizes:
        argv = [sys.executable, str(ROOT / "cli.py"), *COMMANDS[method], "--backend", backend]
        argv += ["--size", str(h), str(w), "--steps", "2", "--weights", "random", "--dtype", dtype, "--quiet"]
        argv += ["--precision", precision] if precision != "fp32" else []
        rss = peak_rss([*argv, "--output", f"{tmp}/o.png"])
        points.append({"size": [h, w], "rss": rss, "activations": memory.activation_bytes((h, w), dtype)})
        print(f"{backend} {method} {dtype}/{precision} {h}x{w}: {rss / 2**30:.2f} GiB", file=sys.stderr)
    base, factor = covering_fit(points)
    return {
        "backend": backend,
        "method": method,
        "dtype": dtype,
        "precision": precision,
        "points": points,
        "base": base,
        "factor": factor,
    }


def main() -> None:
    """Measure, fit, report."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default=",".join(NAMES))
    p.add_argument("--method", default="gatys", choices=sorted(COMMANDS), help="gatys: nst stylize; hrnet: photoreal")
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
    p.add_argument(
        "--fit",
        action="store_true",
        help="write the fits of --backends x --modes in the results in --out "
        "to each backend's memory.toml, measure nothing",
    )
    p.add_argument("--no-fit", action="store_true", help="measure, but leave the backends' memory.toml as they are")
    args = p.parse_args()
    if args.table or args.fit:
        saved = json.loads(Path(args.out).read_text())
        modes = [tuple(m.split("/")) for m in args.modes.split(",")]
        chosen = [r for r in saved["results"] if r["backend"] in args.backends.split(",")]
        if args.fit:
            chosen = [r for r in chosen if (r["dtype"], r["precision"]) in modes]
            write_fits([r for r in chosen if r.get("method", memory.GATYS) == args.method], args.out, saved["machine"])
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
                results.append(measure(backend, dtype, precision, todo, tmp, args.method))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": versions(), "results": results}, indent=2) + "\n")
    if not args.no_fit:
        write_fits(results, args.out, versions())
    print(table(results, versions()))


FIT_HEADER = """\
# Peak memory of nst stylize (method gatys) and nst photoreal (method hrnet) on the {name} backend, for
# common/jobs/memory.py: base + factor x the bytes of VGG-19's activations up to conv5_1 (bytes), by method, dtype
# and precision. Written by benchmarks/memory.py (each fit names the results it was fitted to and their CPU; --fit
# rewrites fits from saved results). Read without importing the framework: a run that would not fit is refused
# before the backend loads.
"""


def write_fits(
    results: list[dict], results_file: str, machine: dict, path_of: Callable[[str], Path] = memory.fit_file
) -> None:
    """Each result's (base, factor), rounded up to 4 significant digits, into its backend's memory.toml: a (method,
    dtype, precision) measured again replaces its fit where it stands, the other fits stay as they are."""
    where = Path(results_file).resolve()
    where = str(where.relative_to(ROOT)) if where.is_relative_to(ROOT) else str(where)
    for name in dict.fromkeys(r["backend"] for r in results):
        path = Path(path_of(name))
        fits = tomllib.loads(path.read_text())["fit"] if path.exists() else []
        for r in (r for r in results if r["backend"] == name):
            new = {"method": r.get("method", memory.GATYS), "dtype": r["dtype"], "precision": r["precision"]}
            new |= {"base": r["base"], "factor": r["factor"], "results": where, "cpu": machine["cpu"]}
            mode = memory.mode_of(new)
            at = next((i for i, fit in enumerate(fits) if memory.mode_of(fit) == mode), None)
            if at is None:
                fits.append(new)
            else:
                fits[at] = new
        path.write_text(FIT_HEADER.format(name=name) + "".join(fit_table(fit) for fit in fits))


def fit_table(fit: dict) -> str:
    """One [[fit]] table of memory.toml, the coefficients rounded up to 4 significant digits."""
    lines = ["", "[[fit]]", f"method = {json.dumps(fit.get('method', memory.GATYS))}"]
    lines += [f"dtype = {json.dumps(fit['dtype'])}", f"precision = {json.dumps(fit['precision'])}"]
    lines += [f"base = {round_up(fit['base']):.4g}", f"factor = {round_up(fit['factor']):.4g}"]
    lines += [f"results = {json.dumps(fit['results'])}", f"cpu = {json.dumps(fit['cpu'])}"]
    return "\n".join(lines) + "\n"


def table(results: list[dict], machine: dict) -> str:
    """Measured peaks, how far the linear fit is from them at worst, and the largest 4:3 image in 24 GiB."""
    sizes = sorted({tuple(pt["size"]) for r in results for pt in r["points"]}, key=lambda s: s[0] * s[1])
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores",
        "",
        "| backend | method | dtype / precision | GiB at "
        + " | ".join(f"{h}x{w}" for h, w in sizes)
        + " | fit: worst error | largest 4:3 image in 24 GiB |",
        "|---|---|---|" + "---:|" * (len(sizes) + 2),
    ]
    for r in results:
        rss = {tuple(pt["size"]): pt["rss"] for pt in r["points"]}
        cells = " | ".join(f"{rss[s] / 2**30:.2f}" if s in rss else "" for s in sizes)
        fitted = [
            r["base"] + r["factor"] * memory.activation_bytes(tuple(pt["size"]), r["dtype"]) for pt in r["points"]
        ]
        worst = max(abs(f - pt["rss"]) / pt["rss"] for f, pt in zip(fitted, r["points"], strict=True))
        h, w = memory.largest_size(24 * 2**30, r["base"], r["factor"], r["dtype"], aspect=3 / 4)
        method = r.get("method", memory.GATYS)
        lines.append(
            f"| {r['backend']} | {method} | {r['dtype']} / {r['precision']} | {cells} | {worst:.1%} | {h}x{w} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
