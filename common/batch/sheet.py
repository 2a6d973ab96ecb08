"""Pictures and comparisons of a finished batch: the contact sheet of a grid (content rows x style columns)
and, where jobs differ only in their backend, each two backends side by side in the style of ``nst compare``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from ..core import registry
from ..core.errors import UserError
from ..jobs import images
from ..studies.compare import differences
from .manifest import Job

CELL, LABEL = 128, 26  # thumbnail box and label height, pixels
MAX_ROWS, MAX_COLUMNS = 40, 24
NOT_THE_SAME_JOB = ("backend", "output", "log", "plot", "gif", "save_model")


def finished(job: Job, entries: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The job's ledger line if it succeeded with its current settings."""
    entry = entries.get(job.id) if job.settings is not None else None
    return entry if entry and entry.get("hash") == job.hash and entry.get("status") == "ok" else None


def backend_pairs(
    jobs: list[Job], entries: dict[str, dict[str, Any]], names: tuple[str, ...] = registry.NAMES
) -> list[dict[str, Any]]:
    """For each pair of finished jobs that differ only in their backend (each pair of the registry's backends,
    registry.pairs): time per step, final losses and the difference of their outputs (max abs, PSNR, SSIM, as nst
    compare reports them)."""
    groups: dict[str, dict[str, tuple[Job, dict[str, Any]]]] = {}
    for job in jobs:
        entry = finished(job, entries)
        if entry:
            d = job.settings.as_dict()
            for key in NOT_THE_SAME_JOB:
                d.pop(key)
            groups.setdefault(json.dumps(d, sort_keys=True), {})[job.settings.backend] = (job, entry)
    pairs = []
    for group in groups.values():
        for x, y in registry.pairs(names):
            if x in group and y in group:
                compared = compare_pair((x, y), group[x], group[y])
                if compared is not None:
                    pairs.append(compared)
    return pairs


def compare_pair(
    names: tuple[str, str], first: tuple[Job, dict[str, Any]], second: tuple[Job, dict[str, Any]]
) -> dict[str, Any] | None:
    """Two finished jobs of the same settings on two backends, side by side; None when an output is gone."""
    (a, ea), (b, eb) = first, second
    try:
        ia, ib = (images.load_image(j.settings.output, "output") for j in (a, b))
    except UserError:
        return None  # removed or damaged since: nothing to compare
    diff = differences(ia, ib) if ia.size == ib.size else {}
    x, y = names
    return {
        "backends": [x, y],
        "content": Path(a.settings.content).name,
        "style": "+".join(Path(p).name for p in a.settings.style),
        "grid": {k: v for k, v in a.grid.items() if k != "backend"},
        "jobs": {x: a.id, y: b.id},
        "seconds_per_step": {x: ea["seconds_per_step"], y: eb["seconds_per_step"]},
        "losses": {x: ea["losses"], y: eb["losses"]},
        **{k: diff.get(k) for k in ("max_abs", "psnr", "ssim")},
    }


def pairs_table(pairs: list[dict[str, Any]], table: Callable[[list[str], list[list[Any]]], list[str]]) -> list[str]:
    """The comparison as Markdown table lines: a row per pair of jobs, A and B the pair's two backends."""
    header = ["backends (A / B)", "content", "style", "settings", "A s/step", "B s/step", "B / A"]
    header += ["A total loss", "B total loss", "PSNR (dB)", "SSIM", "max abs"]
    lines = []
    for p in pairs:
        x, y = p["backends"]
        t, m = p["seconds_per_step"][x], p["seconds_per_step"][y]
        lines.append(
            [
                f"{x} / {y}",
                p["content"],
                p["style"],
                " ".join(f"{k}={v}" for k, v in p["grid"].items()) or "-",
                t,
                m,
                f"{m / t:.2f}x" if t and m else "",
                p["losses"][x].get("total", ""),
                p["losses"][y].get("total", ""),
                "" if p["psnr"] is None else ("inf" if p["psnr"] == float("inf") else f"{p['psnr']:.1f}"),
                "" if p["ssim"] is None else f"{p['ssim']:.4f}",
                "" if p["max_abs"] is None else f"{p['max_abs']:.0f}",
            ]
        )
    return table(header, lines)


def _thumb(canvas: Image.Image, img: Image.Image | None, x: int, y: int, label: list[str]) -> None:
    draw = ImageDraw.Draw(canvas)
    if img is None:
        draw.rectangle([x + 8, y + 8, x + CELL - 8, y + CELL - 8], fill=(220, 220, 220))
    else:
        img = ImageOps.contain(img, (CELL - 4, CELL - 4))
        canvas.paste(img, (x + (CELL - img.width) // 2, y + (CELL - img.height) // 2))
    for i, text in enumerate(label[:2]):
        draw.text((x + 3, y + CELL + 1 + 12 * i), text[: CELL // 6], fill=(0, 0, 0))


def contact_sheet(path: Path, jobs: list[Job], entries: dict[str, dict[str, Any]]) -> bool:
    """Draw contents (rows) x styles and grid values (columns), the inputs along the edges; False if nothing to
    draw. The first MAX_ROWS contents and MAX_COLUMNS columns are drawn."""
    grid = [job for job in jobs if job.from_grid and job.settings is not None]
    if not grid:
        return False
    contents = list(dict.fromkeys(j.settings.content for j in grid))[:MAX_ROWS]
    columns = list(dict.fromkeys((j.settings.style, tuple(j.grid.items())) for j in grid))[:MAX_COLUMNS]
    cells = {(j.settings.content, (j.settings.style, tuple(j.grid.items()))): j for j in grid}
    canvas = Image.new("RGB", (CELL * (1 + len(columns)), (CELL + LABEL) * (1 + len(contents))), "white")

    def picture(p: str) -> Image.Image | None:
        try:
            return images.load_image(p, "image")
        except UserError:
            return None

    for c, (styles, values) in enumerate(columns, 1):
        label = ["+".join(Path(s).stem for s in styles), " ".join(f"{k}={v}" for k, v in values)]
        _thumb(canvas, picture(styles[0]), CELL * c, 0, label)
    for r, content in enumerate(contents, 1):
        y = (CELL + LABEL) * r
        _thumb(canvas, picture(content), 0, y, [Path(content).stem])
        for c, column in enumerate(columns, 1):
            job = cells.get((content, column))
            entry = finished(job, entries) if job else None
            _thumb(canvas, picture(job.settings.output) if entry else None, CELL * c, y, [] if entry else ["not done"])
    images.save_image(canvas, path)
    return True
