"""Does photoreal training drift to a saturated picture? The numbers behind docs/photoreal.md's table ("Why the output
drifted to black"), the default's choice and the thresholds of tests/test_photoreal_drift.py.

nst photoreal on the bundled samples (chelsea resized to SIDE x SIDE, the 512x512 ihc style image), seeded random
VGG-19 weights, float32, each way of handling the style image, measured with common.studies.drift (mean pixel
value, share of pixels at 0 or 255, structure: the correlation of coarse edges with the content's). Usage:

    python benchmarks/photoreal_drift.py                              # torch and MXNet, 128 and 256, 80 steps
    python benchmarks/photoreal_drift.py --backends torch --sizes 256 --variants per-pixel,sum
    python benchmarks/photoreal_drift.py --sweep --sizes 128          # summed Grams, style at 1x ... 16x the pixels
    python benchmarks/photoreal_drift.py --table                      # print the table of --out, measure nothing

Writes benchmarks/results/photoreal_drift.json (--out) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from PIL import Image  # noqa: E402

import common  # noqa: E402
from common.core.hrnet import random_generator  # noqa: E402
from common.core.interface import load_backend  # noqa: E402
from common.jobs import presets, samples  # noqa: E402
from common.jobs.photoreal import style_size  # noqa: E402
from common.jobs.record import versions  # noqa: E402
from common.studies import drift  # noqa: E402

# name: (what it is, its preset, the settings it changes; "resized" also caps the style at the output's side)
VARIANTS = {
    "sum": ("Gram summed (the document's code)", "photoreal-hrnet", {"style_gram": "sum"}),
    "sum-relu": ("Gram summed, ReLU taps (photoreal-hrnet-repo)", "photoreal-hrnet-repo", {}),
    "resized": ("Gram summed, style resized to the output's pixel count", "photoreal-hrnet", {"style_gram": "sum"}),
    "per-pixel": ("Gram per pixel (the default)", "photoreal-hrnet", {}),
    "untrained": ("the seeded generator, untrained", "photoreal-hrnet", {}),
}


def style_side_for(factor: float, side: int) -> int:
    """--style-max-side giving the (square) sample style image factor x the pixels of a side x side output."""
    return round(side * math.sqrt(factor))


def untrained(backend: str, side: int, seed: int = 0) -> Image.Image:
    """The seeded generator's output of the content image, before any step."""
    ops = load_backend(backend)
    content = Image.open(samples.sample_path(samples.CONTENT)).convert("RGB")
    X = ops.preprocess(content, (side, side), "float32", True)
    return ops.postprocess(ops.generator(random_generator(seed))(X), True)


def run(backend: str, side: int, variant: str, steps: int, folder: str, style_factor: float | None = None) -> dict:
    """One nst photoreal run (or the untrained generator's output) and its measures."""
    _, preset, values = VARIANTS[variant]
    content = Image.open(samples.sample_path(samples.CONTENT))
    row = {"backend": backend, "side": side, "variant": variant, "steps": steps}
    if variant == "untrained":
        return {**row, "steps": 0, **drift.measures(untrained(backend, side), content)}
    values = {**values, "backend": backend, "size": (side, side), "steps": steps, "quiet": True}
    values.update(output=f"{folder}/out.png", weights="random")
    if variant == "resized":
        values["style_max_side"] = side
    if style_factor is not None:
        values["style_max_side"] = style_side_for(style_factor, side)
    h, w = style_size(Image.open(samples.sample_path(samples.STYLE)), values.get("style_max_side"))
    row.update(style_at=[h, w], style_factor=h * w / side**2)
    result = common.stylize(presets.settings(values, preset))
    history = [h.style for h in result.history]
    row.update(style_first=history[0], style_last=history[-1], style_min=min(history))
    return {**row, **drift.measures(Image.open(values["output"]), content)}


def table(rows: list[dict], machine: dict) -> str:
    """The rows as a markdown table."""
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores; seeded random VGG-19, float32",
        "",
        "| backend | size | style handling | steps | mean pixel | pixels at 0 or 255 | structure | style loss, "
        "step 1 -> last | usable |",
        "|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        what = VARIANTS[r["variant"]][0]
        if "style_at" in r:
            what += f"; style {r['style_at'][0]}x{r['style_at'][1]}, {r['style_factor']:.3g}x the output's pixels"
        loss = f"{r['style_first']:.4g} -> {r['style_last']:.4g}" if "style_first" in r else ""
        bad = drift.failures(r)
        usable = "no: " + ", ".join(bad) if bad else "yes"
        lines.append(
            f"| {r['backend']} | {r['side']}x{r['side']} | {what} | {r['steps']} | {r['mean']:.3f} | "
            f"{100 * r['clipped']:.1f}% | {r['structure']:.3f} | {loss} | {usable} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run, measure, report."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default="torch,mxnet")
    p.add_argument("--sizes", nargs="+", type=int, default=[128, 256], metavar="SIDE")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--sweep", action="store_true", help="summed Grams with the style at 1, 2, 3, 4, 8, 16x the pixels")
    p.add_argument("--out", default=str(HERE / "results" / "photoreal_drift.json"))
    p.add_argument("--table", action="store_true", help="print the table of the results in --out, measure nothing")
    args = p.parse_args()
    if args.table:
        saved = json.loads(Path(args.out).read_text())
        print(table(saved["results"], saved["machine"]))
        return
    jobs = [(v, None) for v in args.variants.split(",")]
    if args.sweep:
        jobs = [("sum", f) for f in (1, 2, 3, 4, 8, 16)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for backend in args.backends.split(","):
            for side in args.sizes:
                for variant, factor in jobs:
                    rows.append(run(backend, side, variant, args.steps, folder, factor))
                    print(table(rows[-1:], versions()).splitlines()[-1], file=sys.stderr)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": versions(), "results": rows}, indent=2) + "\n")
    print(table(rows, versions()))


if __name__ == "__main__":
    main()
