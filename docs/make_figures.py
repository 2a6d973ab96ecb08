"""Re-make the docs' pictures: content, style, the result of each backend, and both loss curves.

    python docs/make_figures.py            # the d2l recipe (300x450, 500 steps) on the bundled samples
    python docs/make_figures.py --steps 50 --size 150 225   # a quick look
    python docs/make_figures.py --photoreal --size 256 256 --steps 120   # the HRNet generator (nst photoreal)

Writes docs/figures/demo.png, docs/figures/losses.png and docs/figures/<backend>.json (the run records); with
--photoreal, photoreal.png, photoreal_losses.png and photoreal_<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import common  # noqa: E402
from common.core.registry import NAMES  # noqa: E402
from common.jobs import images, samples  # noqa: E402
from common.jobs.photoreal import style_size as photoreal_style_size  # noqa: E402
from common.jobs.plotting import plot_comparison  # noqa: E402


def main() -> None:
    """Run every backend on the samples and draw the figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", nargs=2, type=int, default=[300, 450], metavar=("H", "W"))
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--out", default=str(HERE / "figures"))
    p.add_argument("--photoreal", action="store_true", help="the photoreal-hrnet recipe (a trained generator)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = tuple(args.size)
    prefix, recipe = ("photoreal_", "photoreal-hrnet") if args.photoreal else ("", "d2l")
    results = {}
    for name in NAMES:
        values = {"backend": name, "size": size, "steps": args.steps, "quiet": True}
        values.update(output=str(out / f"{prefix}{name}.png"), log=str(out / f"{prefix}{name}.json"))
        settings = common.jobs.presets.settings(values, recipe)
        results[name] = common.stylize(settings)
        print(f"{name}: {results[name].weights}", file=sys.stderr)
    content = images.load_image(samples.sample_path(samples.CONTENT)).resize(size[::-1])
    style_img = images.load_image(samples.sample_path(samples.STYLE))
    style = style_img.resize(size[::-1])
    panels = [("content", content), ("style", style)] + [(f"{n} backend", r.image) for n, r in results.items()]
    what = f"{recipe} recipe, {size[0]}x{size[1]}, {args.steps} steps"
    if args.photoreal:
        at = photoreal_style_size(style_img, settings.style_max_side)
        what += f"; style image at {at[0]}x{at[1]}, Gram matrices {settings.style_gram}"
    draw_panels(
        panels,
        out / f"{'photoreal' if args.photoreal else 'demo'}.png",
        f"{what}; VGG-19 weights: " + results["torch"].weights,
    )
    histories = {n: json.loads((out / f"{prefix}{n}.json").read_text())["history"] for n in results}
    lines = ", ".join(f"{n} {line}" for n, line in zip(NAMES, ("solid", "dashed", "dotted"), strict=False))
    title = f"{recipe}, {size[0]}x{size[1]}, {args.steps} steps: {lines} (float32)"
    plot_comparison(histories, str(out / f"{prefix}losses.png"), title)


def draw_panels(panels: list[tuple[str, Any]], path: Path, caption: str) -> None:
    """The images side by side with captions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.6), dpi=110)
    for ax, (title, img) in zip(axes, panels, strict=True):
        ax.imshow(img)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(caption, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
