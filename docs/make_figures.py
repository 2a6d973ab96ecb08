"""Re-make the README's pictures: content, style, the result of each backend, and both loss curves.

    python docs/make_figures.py            # the d2l recipe (300x450, 500 steps) on the bundled samples
    python docs/make_figures.py --steps 50 --size 150 225   # a quick look

Writes docs/figures/demo.png, docs/figures/losses.png and docs/figures/<backend>.json (the run records).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import common  # noqa: E402
from common import images, samples  # noqa: E402
from common.plotting import plot_comparison  # noqa: E402


def main() -> None:
    """Run both backends on the samples and draw the figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", nargs=2, type=int, default=[300, 450], metavar=("H", "W"))
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--out", default=str(HERE / "figures"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = tuple(args.size)
    results = {}
    for name in ("torch", "mxnet"):
        settings = common.Settings(
            backend=name, size=size, steps=args.steps, output=str(out / f"{name}.png"), log=str(out / f"{name}.json")
        )
        results[name] = common.stylize(settings)
        print(f"{name}: {results[name].weights}", file=sys.stderr)
    content = images.load_image(samples.sample_path(samples.CONTENT)).resize(size[::-1])
    style = images.load_image(samples.sample_path(samples.STYLE)).resize(size[::-1])
    panels = [("content", content), ("style", style)] + [(f"{n} backend", r.image) for n, r in results.items()]
    draw_panels(panels, out / "demo.png", results["torch"].weights)
    histories = {n: json.loads((out / f"{n}.json").read_text())["history"] for n in results}
    plot_comparison(histories, str(out / "losses.png"), "loss curves: torch (solid) and MXNet (dashed), float32")


def draw_panels(panels, path: Path, weights: str) -> None:
    """The images side by side with captions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.6), dpi=110)
    for ax, (title, img) in zip(axes, panels, strict=True):
        ax.imshow(img)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(f"d2l recipe, VGG-19 weights: {weights}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
