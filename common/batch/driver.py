"""``common.batch.run``: a batch from jobs to files, a ledger and a summary (what ``nst batch`` calls)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import Interrupted, UserError
from ..jobs.run import warn
from ..jobs.signals import stop_on_signals
from . import checks, ledger, local, manifest, summary
from .manifest import Job
from .scheduler import Scheduler
from .summary import Report


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _positive(name: str, value: Any, allow_zero: bool = False) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < (0 if allow_zero else 1):
        raise UserError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} integer, not {value!r}")


def make_jobs(
    outdir: Path, manifest_path: str | None, content: Sequence[str], style: Sequence[str], grid: Any
) -> list[Job]:
    """The batch's jobs: manifest rows (crossed with the grid), or contents x styles x the grid."""
    grid_values = manifest.parse_grid(grid or {})
    if manifest_path:
        if content or style:
            raise UserError("give a manifest or --content/--style folders, not both")
        return manifest.cross(manifest.read_manifest(manifest_path, outdir), grid_values)
    if not content or not style:
        raise UserError("give a manifest, or --content and --style (image files, folders or globs)")
    contents = manifest.expand_inputs(list(content), "--content")
    styles = manifest.expand_inputs(list(style), "--style")
    return manifest.grid_jobs(contents, styles, grid_values)


def output_folder(path: str | os.PathLike) -> tuple[Path, bool]:
    """The output folder (created if missing, its parent must exist); whether it was created now."""
    outdir = Path(path).expanduser().resolve()
    if outdir.exists() and not outdir.is_dir():
        raise UserError(f"--output-dir {str(path)!r} is a file; give a folder")
    if outdir.is_dir():
        return outdir, False
    if not outdir.parent.is_dir():
        raise UserError(f"--output-dir {str(path)!r}: folder {str(outdir.parent)!r} does not exist; create it first")
    try:
        outdir.mkdir()
    except OSError as e:
        raise UserError(f"--output-dir {str(path)!r} cannot be created: {e.strerror or e}") from e
    return outdir, True


def run(
    output_dir: str | os.PathLike,
    manifest_path: str | None = None,
    content: Sequence[str] = (),
    style: Sequence[str] = (),
    grid: dict[str, list[Any]] | Sequence[str] | None = None,
    settings: dict[str, Any] | None = None,
    preset: str | None = None,
    *,
    workers: int | None = None,
    threads_per_job: int = 1,
    address: str | None = None,
    max_retries: int = 3,
    retry_failed: bool = False,
    skip_invalid: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = warn,
) -> Report:
    """Run a batch; see docs/batch.md. Raises UserError for bad input (nothing is run),
    Interrupted after SIGINT/SIGTERM (finished jobs are kept), BackendUnavailable without Ray."""
    local.require_ray()
    _positive("--threads-per-job", threads_per_job)
    _positive("--max-retries", max_retries, allow_zero=True)
    if workers is not None:
        _positive("--workers", workers)
    outdir, created = output_folder(output_dir)
    checked = time.time()
    try:
        jobs = make_jobs(outdir, manifest_path, content, style, grid)
        defaults = manifest.resolve_paths(dict(settings or {}), Path.cwd(), outdir)
        valid = checks.check_all(jobs, defaults, preset, outdir)
        if len(valid) < len(jobs) and not skip_invalid:
            raise UserError(checks.refusal(jobs))
    except UserError:
        if created:
            with contextlib.suppress(OSError):
                outdir.rmdir()
        raise
    checked = time.time() - checked
    for job in jobs:
        if job.error is not None:
            say(f"skipping {job.label}: {job.error}")
    options = {"workers": workers, "threads": threads_per_job, "address": address, "max_retries": max_retries}
    with ledger.Ledger(outdir) as led:
        states = {job.id: led.state(job.id, job.hash, checks.outputs_of(job)) for job in valid}
        todo = [j for j in valid if states[j.id] == "todo" or (retry_failed and states[j.id] == "failed")]
        ours = [str(outdir / name) for name in checks.BATCH_FILES]
        ledger.remove_stale_temporaries([p for j in valid for p in checks.outputs_of(j)] + ours)
        stats, finished = execute(todo, led, options, progress, len(valid) - len(todo)) if todo else ({}, True)
        stats = {"check_seconds": round(checked, 3), **stats} if stats else stats
        report = summary.write(outdir, jobs, led.entries, stats)
    report.skipped, report.ran, report.interrupted = len(valid) - len(todo), stats.get("jobs_run", 0), not finished
    if not finished:
        raise Interrupted(
            f"interrupted: {report.ok} of {report.total} jobs are done; the jobs that were running were cancelled "
            f"and left nothing behind; run the same command again to continue"
        )
    return report


def execute(
    todo: list[Job], led: ledger.Ledger, options: dict[str, Any], progress: bool, done_before: int
) -> tuple[dict[str, Any], bool]:
    """Run the jobs on Ray; measurements of the run, and False if it was interrupted."""
    threads = options["threads"]
    slots = options["workers"] or max(1, _cores() // threads)
    started = time.time()
    try:
        with local.connect(options["address"], slots * threads) as worker_env:
            ray = local.import_ray()
            resources = ray.cluster_resources()
            if options["address"] and not options["workers"]:
                slots = max(1, int(resources.get("CPU", 1) // threads))
            if any(j.settings.device.startswith("cuda") for j in todo) and resources.get("GPU", 0) < 1:
                raise UserError("--device cuda: the Ray cluster has no GPU")
            scheduler = Scheduler(ray, todo, led, slots, threads, {**options, "worker_env": worker_env})
            bar = summary.progress_bar(len(todo) + done_before, done_before, progress, scheduler)
            ready, cpu = time.time(), time.process_time()
            with stop_on_signals() as stop_requested:
                finished = scheduler.run(stop_requested)
            bar.close()
            stats = {
                "jobs_run": scheduler.counts["ok"] + scheduler.counts["failed"],
                "slots": slots,
                "threads_per_job": threads,
                "startup_seconds": round(ready - started, 3),
                "wall_seconds": round(time.time() - ready, 3),
                "driver_cpu_seconds": round(time.process_time() - cpu, 3),
                "driver_job_cpu_seconds": round(scheduler.job_cpu, 3),
                "nodes": sorted({n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")}),
            }
    except KeyboardInterrupt:  # outside the job loop (while Ray starts or stops): no job was being recorded
        raise Interrupted("interrupted while Ray started or stopped; finished jobs are kept") from None
    return stats, finished
