"""nst compare: the same job on every backend, on the same weights, and a report of speed, memory and results.

Each backend runs in a fresh process, so its peak memory (resident set size, from the operating system) and
its thread pools are its own. The report folder holds report.md, a self-contained report.html, the overlaid
loss curves, both outputs beside their difference, both run records and the environment.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..core.errors import UserError, WeightsUnavailable
from ..core.interface import load_backend
from ..core.registry import NAMES
from ..jobs import children, paths, record
from ..jobs.outputs import atomic_folder, write_atomic, write_text
from ..jobs.plotting import plot_comparison
from ..jobs.run import Say, input_files, warn
from ..jobs.settings import Settings

FIELDS = ("median", "min", "max")


def shared_weights(s: Settings, folder: Path, say: Say) -> tuple[str, str]:
    """A weights spec every backend loads identically, and a sentence saying what it is."""
    if s.weights == "random":
        return "random", f"seeded random VGG-19 weights (seed {s.seed}), identical in every backend"
    if s.weights not in ("auto", "imagenet"):
        return s.weights, f"the weight file {s.weights}, loaded by every backend"
    for name in NAMES:  # the first backend whose library can supply ImageNet weights
        ops = load_backend(name)
        try:
            arrays, where = ops.pretrained_weights()
        except WeightsUnavailable:
            continue
        path = folder / f"imagenet-vgg19{ops.weight_suffix}"  # in its own format: every backend reads either
        write_atomic(path, lambda tmp, ops=ops, arrays=arrays: ops.write_weights(tmp, arrays), "weights file")
        return str(path), f"ImageNet VGG-19 weights from {where}, given to every backend"
    if s.weights == "imagenet":
        raise UserError("no ImageNet VGG-19 weights can be had (not cached, no network); use --weights random or PATH")
    say("no ImageNet VGG-19 weights (not cached, no network): comparing on seeded random weights")
    return "random", f"seeded random VGG-19 weights (seed {s.seed}): ImageNet weights could not be had offline"


def run_backend(s: Settings, folder: Path, final: Path) -> dict[str, Any]:
    """Run the job on one backend in a fresh process, writing into ``folder``; its run record (naming the files
    where the report will be, ``final``) and peak resident set size."""
    child = s.replace(
        output=str(folder / f"{s.backend}.png"),
        log=str(folder / f"{s.backend}.json"),
        plot=None,
        gif=None,
        checkpoint=None,
        save_every=0,
        quiet=True,
    )
    finished = children.run_job(child).check(f"the {s.backend} run")
    run = json.loads(Path(child.log).read_text())
    run["output"] = run["settings"]["output"] = str(final / f"{s.backend}.png")
    run["settings"]["log"] = str(final / f"{s.backend}.json")
    record.write(child.log, run)
    run["peak_rss"] = finished.peak_rss
    return run


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two 8-bit RGB images (scikit-image's, Gaussian-weighted)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=-1, data_range=255, gaussian_weights=True))


def differences(*outputs: Image.Image) -> dict[str, float]:
    """Max abs difference (8-bit levels), PSNR (dB) and SSIM of two outputs; of more, each the worst over every two
    of them (the largest difference, the lowest PSNR and SSIM)."""
    pairs = [_differences(a, b) for a, b in itertools.combinations(outputs, 2)]
    return {
        "max_abs": max(p["max_abs"] for p in pairs),
        "psnr": min(p["psnr"] for p in pairs),
        "ssim": min(p["ssim"] for p in pairs),
    }


def _differences(a: Image.Image, b: Image.Image) -> dict[str, float]:
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mse = float(((x - y) ** 2).mean())
    return {
        "max_abs": float(np.abs(x - y).max()),
        "psnr": float("inf") if mse == 0 else 10 * np.log10(255**2 / mse),
        "ssim": ssim(np.asarray(a), np.asarray(b)),
    }


def draw_outputs(images: dict[str, Image.Image], path: Path) -> None:
    """The outputs side by side and the heat map of their difference (of more than two: the largest difference
    between any two, per pixel)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arrays = [np.asarray(img, np.float64) for img in images.values()]
    diff = np.max([np.abs(a - b).max(axis=-1) for a, b in itertools.combinations(arrays, 2)], axis=0)
    n = len(images)
    fig, axes = plt.subplots(1, n + 1, figsize=(10 * (n + 1) / 3, 3), dpi=110)
    for ax, (title, img) in zip(axes[:n], images.items(), strict=True):
        ax.imshow(img)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    heat = axes[n].imshow(diff, cmap="magma", vmin=0, vmax=max(1.0, float(diff.max())))
    axes[n].set_title("|difference| (8-bit levels)" if n == 2 else "largest |difference| of two", fontsize=9)
    axes[n].axis("off")
    fig.colorbar(heat, ax=axes[n], fraction=0.046)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png"), "figure")
    plt.close(fig)


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    """Seconds per step (median, min, max), steps per second, peak memory and final losses of a run."""
    seconds = [h["seconds"] for h in run["history"]]
    last = run["history"][-1]
    return {
        "median": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
        "steps_per_second": 1 / statistics.median(seconds),
        "peak_rss_gib": run["peak_rss"] / 2**30,
        "steps": len(seconds),
        **{k: last[k] for k in ("content", "style", "tv", "total")},
        "version": run["versions"].get(run["settings"]["backend"], ""),
    }


REPORT_FILES = frozenset(
    {"report.md", "report.html", "losses.png", "outputs.png", "environment.json"}
    | {f"{name}{ext}" for name in NAMES for ext in (".png", ".json")}
)


def compare(settings: Settings, folder: str, force: bool = False, say: Say = warn) -> dict:
    """Run every backend and write the report folder whole (into a temporary folder beside it, moved into place
    at the end: an earlier report is replaced only with ``force``, and never mixed with the new one); returns
    what the report says."""
    s = settings.validated()
    for flag, path in input_files(s):
        if Path(folder).is_dir() and paths.is_within(path, folder):
            raise UserError(f"the input {flag} {path!r} is in --report {folder!r}, which the report replaces")
    with atomic_folder(folder, force, REPORT_FILES, "--report") as out:
        return _write_report(s, out, Path(os.path.realpath(folder)), say)


def _write_report(s: Settings, out: Path, final: Path, say: Say) -> dict:
    """Run every backend into ``out`` and write the report there; its records name the files in ``final``."""
    with tempfile.TemporaryDirectory() as tmp:
        weights, weights_note = shared_weights(s, Path(tmp), say)
        runs = {name: run_backend(s.replace(backend=name, weights=weights), out, final) for name in NAMES}
    summary = {name: summarize(run) for name, run in runs.items()}
    outputs = {name: Image.open(out / f"{name}.png").convert("RGB") for name in runs}
    diff = differences(*outputs.values())
    plot_comparison({n: r["history"] for n, r in runs.items()}, str(out / "losses.png"))
    draw_outputs(outputs, out / "outputs.png")
    environment = record.versions()
    environment.update({name: summary[name]["version"] for name in runs})
    write_text(out / "environment.json", json.dumps(environment, indent=2) + "\n", "environment")
    report = {
        "settings": s.as_dict(),
        "weights": weights_note,
        "backends": summary,
        "difference": diff,
        "environment": environment,
    }
    write_text(out / "report.md", markdown(report), "report")
    write_text(out / "report.html", to_html(report, out), "report")
    return report


def summary_line(report: dict, folder: str) -> str:
    """One line: where the report is, each backend's speed and memory, how far apart the outputs are."""
    b, d = report["backends"], report["difference"]
    return (
        f"wrote {folder}/report.md and report.html: "
        + ", ".join(f"{n} {v['median']:.3f} s/step, {v['peak_rss_gib']:.2f} GiB" for n, v in b.items())
        + f"; outputs {d['psnr']:.1f} dB apart (SSIM {d['ssim']:.4f})"
    )


def _rows(report: dict) -> list[tuple[str, list[str]]]:
    b = report["backends"]
    names = list(b)
    return [
        ("seconds per step: median", [f"{b[n]['median']:.3f}" for n in names]),
        ("seconds per step: min / max", [f"{b[n]['min']:.3f} / {b[n]['max']:.3f}" for n in names]),
        ("steps per second", [f"{b[n]['steps_per_second']:.2f}" for n in names]),
        ("peak memory (RSS, GiB)", [f"{b[n]['peak_rss_gib']:.2f}" for n in names]),
        *[(f"final {k} loss", [f"{b[n][k]:.6g}" for n in names]) for k in ("content", "style", "tv", "total")],
        ("framework version", [b[n]["version"] for n in names]),
    ]


def outputs_label(names: list[str]) -> str:
    """What the difference line is of: the two outputs, or the worst of every two of more."""
    return "Outputs" if len(names) <= 2 else f"Outputs (the worst of every two of {len(names)})"


def markdown(report: dict) -> str:
    """The report as Markdown."""
    s, d, env, names = report["settings"], report["difference"], report["environment"], list(report["backends"])
    lines = [
        "# nst compare",
        "",
        f"{report['backends'][names[0]]['steps']} steps of {s['optimizer']} in {s['dtype']}/{s['precision']} "
        f"(preset {s['preset'] or 'none'}); weights: {report['weights']}.",
        "",
        f"Machine: {env['cpu']}, {env['cores']} cores; Python {env['python']}, numpy {env['numpy']}.",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        *[f"| {label} | " + " | ".join(values) + " |" for label, values in _rows(report)],
        "",
        f"{outputs_label(names)}: max abs difference {d['max_abs']:.0f} levels, PSNR {d['psnr']:.1f} dB, "
        f"SSIM {d['ssim']:.4f}.",
        "",
        "![loss curves](losses.png)",
        "",
        "![outputs and their difference](outputs.png)",
        "",
        "Run records: "
        + ", ".join(f"[{n}.json]({n}.json)" for n in names)
        + "; environment: [environment.json](environment.json).",
    ]
    return "\n".join(lines) + "\n"


def to_html(report: dict, folder: Path) -> str:
    """The report as one HTML file that needs nothing else: the pictures are inlined."""

    def img(name: str) -> str:
        data = base64.b64encode((folder / name).read_bytes()).decode()
        return f'<img alt="{name}" src="data:image/png;base64,{data}" style="max-width:100%">'

    names, d = list(report["backends"]), report["difference"]
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th>" + "".join(f"<td>{html.escape(v)}</td>" for v in values) + "</tr>"
        for label, values in _rows(report)
    )
    env = report["environment"]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>nst compare</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .8em;text-align:right}"
        "th:first-child{text-align:left}</style></head><body><h1>nst compare</h1>"
        f"<p>Weights: {html.escape(report['weights'])}.</p>"
        f"<p>Machine: {html.escape(str(env['cpu']))}, {env['cores']} cores.</p>"
        f"<table><tr><th></th>{''.join(f'<th>{n}</th>' for n in names)}</tr>{rows}</table>"
        f"<p>{outputs_label(names)}: max abs difference {d['max_abs']:.0f} levels, PSNR {d['psnr']:.1f} dB, "
        f"SSIM {d['ssim']:.4f}.</p>"
        f"{img('losses.png')}{img('outputs.png')}"
        f"<h2>Settings</h2><pre>{html.escape(json.dumps(report['settings'], indent=1))}</pre></body></html>\n"
    )


ABOUT = {
    "description": f"Run one nst stylize job on every backend ({', '.join(NAMES)}) with the same weights, each in a "
    "fresh process, and write a report folder: report.md, report.html, loss curves, outputs and their difference, run "
    "records, environment. Takes the flags of nst stylize."
}
# The flags of nst compare besides those of nst stylize (less flags.COMPARE_SKIPS).
FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--report",), {"default": "compare-report", "metavar": "FOLDER", "help": "(default compare-report)"}),
    (("--force",), {"action": "store_true", "help": "replace an earlier report in FOLDER (and nothing else)"}),
)
