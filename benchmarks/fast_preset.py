"""Time to a picture: `nst stylize --preset fast` against the d2l recipe, whole processes, in one interleaved run.

Each contender is a fresh `cli.py stylize` process, timed from its start to its exit (interpreter start, imports,
weights, every step, the image written): what a user waits for. The d2l recipe (--preset d2l: 500 Adam steps at
300x450), the fast preset, and the fast preset in bf16 where the backend runs it here (torch and MXNet on a CPU
with bf16 units) run on each backend and image pair, their order reversed every other case, so that all see the
same spells of a shared machine's load. Each written image is then judged as nst bench --to-quality judges: the
d2l objective (float32, seeded random VGG-19 weights, full size) on the 8-bit image; "reached" means the fast
image's loss is at most the recipe's. The fast result is also compared with the recipe's (PSNR, SSIM, as nst
compare reports them), and --figure draws content, style, the recipe's result and the fast one for each pair. Usage:

    python benchmarks/fast_preset.py --figure docs/figures/fast_preset.png   # writes results/fast_preset_<cpu>.json
    python benchmarks/fast_preset.py --backends torch --pairs bundled --size 64x96 --out /tmp/f.json
    python benchmarks/fast_preset.py --cases torch:bundled,mxnet:bundled,torch:astronaut-coffee
    python benchmarks/fast_preset.py --merge a.json,b.json --out both.json --figure docs/figures/fast_preset.png
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from common.core.registry import NAMES  # noqa: E402
from common.jobs.record import versions  # noqa: E402

PAIRS = {"bundled": (None, None), "astronaut-coffee": ("astronaut.png", "coffee.png")}  # scikit-image's data


def pair_files(pair: str) -> tuple[str, str]:
    """The content and style files of an image pair (bundled: the package's sample pair)."""
    from common.jobs import samples

    content, style = PAIRS[pair]
    if content is None:
        return str(samples.sample_path(samples.CONTENT)), str(samples.sample_path(samples.STYLE))
    import skimage

    data = Path(skimage.__file__).resolve().parent / "data"
    return str(data / content), str(data / style)


def contenders(backend: str) -> dict[str, list[str]]:
    """Contender name -> its nst stylize flags: the recipe, the fast preset, and fast in bf16 where the backend runs
    it here."""
    from common.studies.quality import fast_recipe

    out = {"d2l": ["--preset", "d2l"], "fast": ["--preset", "fast"]}
    if fast_recipe(backend)["precision"] == "bf16":
        out["fast-bf16"] = ["--preset", "fast", "--precision", "bf16"]
    return out


def timed_run(backend: str, flags: list[str], pair: str, size: list[str], out: Path) -> tuple[float, float]:
    """Seconds from the start of a fresh nst stylize process to its exit, and the machine's load average over it
    (the 1-minute figure at its end: near 2 on this 2-core machine means nothing else ran)."""
    content, style = pair_files(pair)
    argv = [sys.executable, str(ROOT / "cli.py"), "stylize", *flags, "--backend", backend, *size]
    argv += ["--content", content, "--style", style, "--weights", "random", "--quiet", "--output", str(out)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr[-800:]}")
    return seconds, os.getloadavg()[0]


JUDGE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from common.core.interface import load_backend
from common.core.objective import make_objective
from common.core.recipe import CONTENT_LAYERS, STYLE_LAYERS
from common.jobs import images
from common.studies.compare import differences
spec = json.loads(sys.argv[2])
ops, size = load_backend(spec["backend"]), tuple(spec["size"])
content, style = (images.load_image(p) for p in (spec["content"], spec["style"]))
judge = make_objective(ops, ops.preprocess(content, size), ops.preprocess(style, size), CONTENT_LAYERS, STYLE_LAYERS)
out = {"loss": {}, "difference": {}}
for name, path in spec["images"].items():
    out["loss"][name] = float(ops.to_numpy(judge(ops.preprocess(images.load_image(path), size))[3]))
    if name != "d2l":
        out["difference"][name] = differences(images.load_image(spec["images"]["d2l"]), images.load_image(path))
print(json.dumps(out))
"""


def judged(backend: str, pair: str, size: tuple[int, int], outputs: dict[str, Path]) -> dict:
    """In a fresh process: the d2l objective's loss of each output, each fast output's difference from the recipe's."""
    content, style = pair_files(pair)
    spec = {"backend": backend, "size": list(size), "content": content, "style": style}
    spec["images"] = {k: str(p) for k, p in outputs.items()}
    done = subprocess.run(
        [sys.executable, "-c", JUDGE, str(ROOT), json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-800:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run, judge, write the results (and the figure) and print a table."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", default=",".join(NAMES))
    p.add_argument("--pairs", default=",".join(PAIRS))
    p.add_argument("--cases", default="", help="backend:pair,... instead of every backend with every pair")
    p.add_argument("--size", default="300x450", help="HxW of every run (the recipe's own: 300x450)")
    p.add_argument("--keep", default="", help="a folder to keep the written images in")
    p.add_argument("--figure", default="", help="draw the recipe's and the fast results of each pair here (.png)")
    p.add_argument("--out", default="")
    p.add_argument("--merge", default="", help="results files (a,b,...) of earlier runs: merge them, draw, no runs")
    args = p.parse_args()
    if args.merge:
        files = [json.loads(Path(f).read_text()) for f in args.merge.split(",")]
        results = [r for f in files for r in f["results"]]
        merged = {"machine": files[0]["machine"], "results": results}
        Path(args.out).write_text(json.dumps(merged, indent=2) + "\n")
        if args.figure:
            draw(results, Path(args.figure), merged["machine"])
        print(table(results, merged["machine"]))
        return
    size = tuple(map(int, args.size.split("x")))
    machine = versions()
    slug = re.sub(r"[^a-z0-9]+", "_", machine["cpu"].lower()).strip("_")
    out = Path(args.out or HERE / "results" / f"fast_preset_{slug}.json")
    keep = Path(args.keep or tempfile.mkdtemp())
    keep.mkdir(parents=True, exist_ok=True)
    cases = [(b, pair) for pair in args.pairs.split(",") for b in args.backends.split(",")]
    if args.cases:
        cases = [tuple(case.split(":")) for case in args.cases.split(",")]
    seconds: dict[tuple[str, str, str], float] = {}
    load: dict[tuple[str, str, str], float] = {}
    for i, (backend, pair) in enumerate(cases):
        runs = list(contenders(backend).items())
        for name, flags in runs if i % 2 == 0 else runs[::-1]:  # each leads every other time
            image = keep / f"{pair}-{backend}-{name}.png"
            size_flags = ["--size", *map(str, size)]
            seconds[backend, pair, name], load[backend, pair, name] = timed_run(backend, flags, pair, size_flags, image)
            print(f"{backend} {pair} {name}: {seconds[backend, pair, name]:.1f} s", file=sys.stderr)
    results = []
    for backend, pair in cases:
        names = list(contenders(backend))
        judgement = judged(backend, pair, size, {n: keep / f"{pair}-{backend}-{n}.png" for n in names})
        s = {n: seconds[backend, pair, n] for n in names}
        results.append(
            {
                "backend": backend,
                "pair": pair,
                "size": list(size),
                "seconds": s,
                "load_average": {n: load[backend, pair, n] for n in names},
                "ratio": {n: s[n] / s["d2l"] for n in names if n != "d2l"},
                "loss": judgement["loss"],
                "reached": {n: judgement["loss"][n] <= judgement["loss"]["d2l"] for n in names if n != "d2l"},
                "difference": judgement["difference"],
                "images": {n: str(keep / f"{pair}-{backend}-{n}.png") for n in names},
            }
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    if args.figure:
        draw(results, Path(args.figure), machine)
    print(table(results, machine))


def table(results: list[dict], machine: dict) -> str:
    """The results as a Markdown table, one line per backend, pair and fast contender."""
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores; whole processes, start to exit",
        "",
        "| backend | images | d2l recipe: s (loss) | fast contender | its s (loss) | of the recipe's time "
        "| PSNR / SSIM to the recipe's image | load average at the end: recipe, fast |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        s, loss = r["seconds"], r["loss"]
        for name, ratio in r["ratio"].items():
            d = r["difference"][name]
            reached = "" if r["reached"][name] else ", not reached"
            la = r.get("load_average", {})
            load = f"{la['d2l']:.1f}, {la[name]:.1f}" if la else ""
            lines.append(
                f"| {r['backend']} | {r['pair']} | {s['d2l']:.0f} ({loss['d2l']:.4g}) | {name} | {s[name]:.1f} "
                f"({loss[name]:.4g}{reached}) | {ratio:.3f} | {d['psnr']:.1f} dB / {d['ssim']:.3f} | {load} |"
            )
    return "\n".join(lines)


def draw(results: list[dict], path: Path, machine: dict) -> None:
    """Per pair (the first backend's runs): content, style, the recipe's result, the fast preset's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    first = {}
    for r in results:
        first.setdefault(r["pair"], r)
    fig, axes = plt.subplots(len(first), 4, figsize=(13, 2.9 * len(first)), dpi=100, squeeze=False)
    for row, (pair, r) in zip(axes, first.items(), strict=True):
        content, style = pair_files(pair)
        s, d = r["seconds"], r["difference"]["fast"]
        titles = (
            ("content", Image.open(content)),
            ("style", Image.open(style)),
            (f"{r['backend']}, d2l recipe: {s['d2l']:.0f} s, loss {r['loss']['d2l']:.3f}", r["images"]["d2l"]),
            (
                f"--preset fast: {s['fast']:.0f} s, loss {r['loss']['fast']:.3f}\n"
                f"PSNR {d['psnr']:.1f} dB, SSIM {d['ssim']:.2f} to the recipe's",
                r["images"]["fast"],
            ),
        )
        for ax, (title, img) in zip(row, titles, strict=True):
            ax.imshow(img if isinstance(img, Image.Image) else Image.open(img))
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    fig.suptitle(
        f"Seeded random VGG-19 weights, whole processes; {machine['cpu']}, {machine['cores']} cores",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
