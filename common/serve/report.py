"""The comparison of a run's backends (two or more), written as `nst compare` writes its report (studies/compare.py)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from PIL import Image

from ..jobs import record
from ..jobs.outputs import write_text
from ..jobs.plotting import plot_comparison
from ..jobs.settings import Settings
from ..studies import compare
from .store import COMPARE_FILES, clean, read_json

_drawing = threading.Lock()  # matplotlib's pyplot is not thread-safe


def write(run: Path, backends: list[str], peak_rss: dict[str, int], weights_note: str) -> dict[str, Any]:
    """Write run/compare/ (report.html, report.md, comparison.json, outputs.png with the difference heat map,
    losses.png, every run record, environment.json); return comparison.json's content."""
    out = run / "compare"
    out.mkdir(exist_ok=True)
    runs = {}
    for name in backends:
        runs[name] = json.loads((run / name / "run.json").read_text(encoding="utf-8"))
        runs[name]["peak_rss"] = peak_rss.get(name, 0)
    summary = {name: compare.summarize(r) for name, r in runs.items()}
    results = {name: Image.open(run / name / "result.png").convert("RGB") for name in backends}
    difference = compare.differences(*results.values())
    with _drawing:
        plot_comparison({n: r["history"] for n, r in runs.items()}, str(out / COMPARE_FILES["losses"]))
        compare.draw_outputs(results, out / COMPARE_FILES["heatmap"])
    environment = record.versions()
    environment.update({name: summary[name]["version"] for name in runs})
    for name, r in runs.items():
        write_text(out / f"{name}.json", json.dumps(r, indent=2) + "\n", "run record")
    write_text(out / "environment.json", json.dumps(environment, indent=2) + "\n", "environment")
    s = Settings.from_dict(runs[backends[0]]["settings"])
    report = {
        "settings": s.as_dict(),
        "weights": weights_note or runs[backends[0]]["weights"],
        "backends": summary,
        "difference": difference,
        "environment": environment,
    }
    write_text(out / COMPARE_FILES["markdown"], compare.markdown(report), "report")
    write_text(out / COMPARE_FILES["report"], compare.to_html(report, out), "report")
    write_text(out / COMPARE_FILES["json"], json.dumps(clean(report), indent=2) + "\n", "comparison")
    return clean(report)


def load(run: Path) -> dict[str, Any] | None:
    """A comparison written before (a restarted server), or None."""
    return read_json(run / "compare" / COMPARE_FILES["json"])
