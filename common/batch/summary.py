"""The end of a batch: OUTDIR/summary.csv (a row per job), summary.md, summary.json, and the progress bar.

The summary is made from the ledger, so it covers every job of the batch, whichever run finished it.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..jobs import record
from ..jobs.outputs import write_text
from . import sheet
from .manifest import Job

MAX_MD_ROWS = 1000
COLUMNS = (
    *("job", "row", "status", "content", "style", "backend", "preset", "output", "steps", "seconds"),
    *("seconds_per_step", "content_loss", "style_loss", "tv_loss", "total_loss", "weights", "worker_pid", "node"),
    "error",
)


@dataclass
class Report:
    """How a batch ended: counts over all its jobs (this run and earlier ones), and measurements of this run."""

    folder: Path
    total: int
    ok: int
    failed: int
    invalid: int
    skipped: int  # finished in an earlier run, not run again
    ran: int  # run this time
    stats: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """0: every job succeeded; 1: some failed or were invalid; 130: interrupted."""
        if self.interrupted:
            return 130
        return 0 if self.failed == 0 and self.invalid == 0 else 1

    def summary_line(self) -> str:
        """What nst batch prints at the end."""
        return (
            f"{self.ok} of {self.total} jobs ok ({self.skipped} done before, {self.ran} run now), "
            f"{self.failed} failed, {self.invalid} invalid; summary: {self.folder / 'summary.md'}"
        )


def progress_bar(total: int, initial: int, enabled: bool, scheduler: Any) -> Any:
    """A tqdm bar on stderr (done, failed, running, jobs per minute, ETA), updated by the scheduler."""
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, unit="job", file=sys.stderr, disable=not enabled, dynamic_ncols=True)
    started, seen = time.time(), [0]

    def refresh() -> None:
        done = scheduler.counts["ok"] + scheduler.counts["failed"]
        if done > seen[0]:
            bar.update(done - seen[0])
            seen[0] = done
        rate = done / max(time.time() - started, 1e-9) * 60
        running = min(len(scheduler.inflight), scheduler.slots)
        bar.set_postfix_str(
            f"ok {scheduler.counts['ok']}, failed {scheduler.counts['failed']}, running {running}, {rate:.1f} jobs/min",
            refresh=True,
        )

    scheduler.on_result = refresh
    return bar


def status(job: Job, entry: dict[str, Any] | None) -> str:
    """ok, failed, invalid, or not run (no ledger line with the job's current settings)."""
    if job.error is not None:
        return "invalid"
    if entry is None or entry.get("hash") != job.hash:
        return "not run"
    return "ok" if entry["status"] == "ok" else "failed"


def row(job: Job, entry: dict[str, Any] | None, grid_names: list[str]) -> dict[str, Any]:
    """A job's row of summary.csv."""
    state, s = status(job, entry), job.settings
    entry = entry if state in ("ok", "failed") else {}
    losses, worker = entry.get("losses") or {}, entry.get("worker") or {}
    out = {
        "job": job.id or "",
        "row": job.label,
        "status": state,
        "content": s.content if s else job.given.get("content", ""),
        "style": ";".join(s.style) if s else ";".join(job.given.get("style", ())),
        "backend": s.backend if s else "",
        "preset": (s.preset or "") if s else (job.preset or ""),
        "output": s.output if s else "",
        "steps": entry.get("steps", ""),
        "seconds": entry.get("seconds", ""),
        "seconds_per_step": entry.get("seconds_per_step", ""),
        **{f"{k}_loss": losses.get(k, "") for k in ("content", "style", "tv", "total")},
        "weights": entry.get("weights") or "",
        "worker_pid": worker.get("pid", ""),
        "node": worker.get("node", ""),
        "error": job.error if state == "invalid" else (entry.get("error") or ""),
    }
    out = {key: "" if value is None else value for key, value in out.items()}
    return {**out, **{name: job.grid.get(name, "") for name in grid_names}}


def write(folder: Path, jobs: list[Job], entries: dict[str, dict[str, Any]], stats: dict[str, Any]) -> Report:
    """Write summary.csv, summary.md, summary.json (and the contact sheet of a grid); return the Report."""
    grid_names = list(dict.fromkeys(name for job in jobs for name in job.grid if name not in COLUMNS))
    rows = [row(job, entries.get(job.id) if job.id else None, grid_names) for job in jobs]
    counts = {state: sum(r["status"] == state for r in rows) for state in ("ok", "failed", "invalid", "not run")}
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[*COLUMNS[:6], *grid_names, *COLUMNS[6:]], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(folder / "summary.csv", text.getvalue(), "summary")
    pairs = sheet.backend_pairs(jobs, entries)
    drew = any(job.from_grid for job in jobs) and sheet.contact_sheet(folder / "contact_sheet.png", jobs, entries)
    environment = record.versions()
    write_text(folder / "summary.md", markdown(rows, counts, pairs, stats, environment, drew), "summary")
    failed = [{"job": r["job"], "row": r["row"], "error": r["error"]} for r in rows if r["status"] != "ok"]
    data = {"counts": counts, "run": stats, "environment": environment, "not_ok": failed, "backends": pairs}
    write_text(folder / "summary.json", json.dumps(data, indent=2, allow_nan=True) + "\n", "summary")
    report = Report(folder, len(jobs), counts["ok"], counts["failed"] + counts["not run"], counts["invalid"], 0, 0)
    report.stats = stats
    return report


def _table(header: list[str], lines: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return (f"{v:.4g}" if isinstance(v, float) else str(v)).replace("|", "\\|").replace("\n", " ")

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(cell(v) for v in line) + " |" for line in lines
    ]


def markdown(
    rows: list[dict[str, Any]],
    counts: dict[str, int],
    pairs: list[dict[str, Any]],
    stats: dict[str, Any],
    environment: dict[str, Any],
    drew: bool,
) -> str:
    """summary.md."""
    lines = ["# nst batch", "", f"{len(rows)} jobs: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + "."]
    if stats:
        lines += [
            "",
            f"This run: {stats['jobs_run']} jobs in {stats['wall_seconds']:.1f} s on {stats['slots']} worker(s) x "
            f"{stats['threads_per_job']} thread(s), Ray nodes {', '.join(stats['nodes'])} "
            f"(Ray start-up {stats['startup_seconds']:.1f} s).",
        ]
    lines += ["", f"Machine: {environment['cpu']}, {environment['cores']} cores; Python {environment['python']}."]
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        lines += [
            "",
            "## Jobs not done",
            "",
            *_table(["job", "row", "status", "error"], [[r["job"], r["row"], r["status"], r["error"]] for r in bad]),
        ]
    if pairs:
        lines += ["", "## The backends, job by job", "", *sheet.pairs_table(pairs, _table)]
    if drew:
        lines += ["", "## Contact sheet", "", "![contents x styles](contact_sheet.png)"]
    shown = rows[:MAX_MD_ROWS]
    lines += ["", "## Jobs", ""]
    lines += _table(
        ["job", "status", "backend", "steps", "s/step", "total loss", "seconds"],
        [
            [r["job"], r["status"], r["backend"], r["steps"], r["seconds_per_step"], r["total_loss"], r["seconds"]]
            for r in shown
        ],
    )
    if len(rows) > len(shown):
        lines += ["", f"... {len(rows) - len(shown)} more in summary.csv."]
    return "\n".join(lines) + "\n"
