"""Every job of a batch checked before anything runs, by the one plan of nst stylize (its settings, input images,
sizes, memory, its outputs writable and inside the output folder), and its outputs distinct from every other job's
files and from every input. All problems are collected, each with its job's row, not only the first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core.errors import UserError
from ..jobs import flags, stylize
from ..jobs.paths import is_path
from ..jobs.plan import FilesOnce
from ..jobs.run import content_path, style_paths
from . import ledger
from .manifest import OUTPUT_PATHS, Job, output_name

BATCH_FILES = (ledger.NAME, "summary.csv", "summary.md", "summary.json", "contact_sheet.png")


def build(job: Job, defaults: dict[str, Any], preset: str | None, outdir: Path, inputs: FilesOnce) -> None:
    """Give the job its planned Settings (every check nst stylize makes, its outputs inside the output folder), id,
    input list and hash; UserError for the first problem."""
    given = {**defaults, **job.given}
    if not given.get("output"):
        given["output"] = str(outdir / output_name(given.get("content"), tuple(given.get("style", ())), job.grid))
    s = flags.settings_from({**given, "preset": job.preset or preset})  # as nst stylize builds them
    if isinstance(s.device, str) and s.device.startswith("cuda"):
        s = s.replace(device="cuda:0")  # Ray gives the task one GPU, which it sees as the first
    elif s.device != "cpu":
        raise UserError(f"--device must be cpu or cuda, not {s.device!r}")
    s = s.replace(content=content_path(s), style=tuple(style_paths(s)))
    planned = stylize.plan(s, say=lambda line: None, source=inputs, confine=outdir)
    s = planned.settings
    job.inputs = [("content", s.content)] + [("style", p) for p in s.style]
    if is_path("init", s.init):
        job.inputs.append(("init", s.init))
    files = [p for _, p in job.inputs] + ([s.weights] if is_path("weights", s.weights) else [])
    job.settings = s
    job.hash = ledger.settings_hash(s, {p: inputs.fingerprint(p) for p in files})
    out = Path(s.output)
    job.id = str(out.relative_to(outdir)) if out.is_relative_to(outdir) else str(out)


def outputs_of(job: Job) -> list[str]:
    """Every file a job writes (absolute, normalized)."""
    return [os.path.abspath(getattr(job.settings, n)) for n in OUTPUT_PATHS if getattr(job.settings, n)]


def check_all(jobs: list[Job], defaults: dict[str, Any], preset: str | None, outdir: Path) -> list[Job]:
    """Build and check every job; set ``job.error`` on each bad one; return the good ones. Files are compared by
    where they really are (links and `..` resolved)."""
    inputs = FilesOnce()
    for job in jobs:
        if job.error is None:
            try:
                build(job, defaults, preset, outdir, inputs)
            except UserError as e:
                job.error = str(e)
    reserved = {os.path.realpath(outdir / name) for name in BATCH_FILES}
    read: dict[str, str] = {}
    for job in jobs:
        for _, path in job.inputs if job.error is None else ():
            if os.path.realpath(path) in reserved:
                job.error = (
                    f"{path!r} is one of the batch's own files (it writes it again at the end), so it cannot be an "
                    "input: give --output-dir another folder"
                )
                break
            read.setdefault(os.path.realpath(path), job.label)
    written: dict[str, str] = {}
    for job in jobs:
        if job.error is not None:
            continue
        for path in map(os.path.realpath, outputs_of(job)):
            if path in reserved:
                job.error = f"{path!r} is one of the batch's own files; choose another name"
            elif path in read:
                job.error = f"{path!r} is an input of {read[path]}; a batch never overwrites an input"
            elif path in written:
                job.error = f"{path!r} is also written by {written[path]}; give each job its own output"
            if job.error:
                break
            written[path] = job.label
    return [job for job in jobs if job.error is None]


def refusal(jobs: list[Job]) -> str:
    """The message that refuses a batch with invalid jobs: how many, then one line per bad job."""
    bad = [job for job in jobs if job.error is not None]
    lines = [f"{len(bad)} of {len(jobs)} jobs are invalid; nothing was run (--skip-invalid runs the valid ones):"]
    return "\n".join(lines + [f"  {job.label}: {job.error}" for job in bad])
