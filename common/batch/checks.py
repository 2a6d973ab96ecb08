"""Every job of a batch checked before anything runs: its settings as ``nst stylize`` would build and validate
them, its input images readable, its output files writable and distinct from every other job's files and from
every input. All problems are collected, each with its job's row, not only the first."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core import weights
from ..core.errors import UserError
from ..jobs import flags, images
from ..jobs.outputs import check_writable
from ..jobs.paths import is_path
from ..jobs.run import content_path, style_paths
from ..jobs.settings import SPECS, check_method
from . import ledger
from .manifest import OUTPUT_PATHS, Job, output_name

# An output's extensions and what messages call it (the setting's name, as a manifest column names it).
EXTENSIONS = {
    name: (SPECS[name].extensions, f"{SPECS[name].called or name} ({name})" if name != "output" else "output")
    for name in OUTPUT_PATHS
}
BATCH_FILES = (ledger.NAME, "summary.csv", "summary.md", "summary.json", "contact_sheet.png")


class Inputs:
    """Each input file read and checked once, however many jobs use it; and its fingerprint."""

    def __init__(self) -> None:
        self.problems: dict[tuple[str, str], str | None] = {}
        self.fingerprints: dict[str, str] = {}

    def check(self, path: str, what: str, min_size: bool = True) -> None:
        """UserError if the image cannot be used as ``what``."""
        key = (path, what if min_size else "")
        if key not in self.problems:
            try:
                img = images.load_image(path, what)
                if min_size:
                    images.check_size(img, f"{what} {path!r}")
                self.problems[key] = None
            except UserError as e:
                self.problems[key] = str(e)
        if self.problems[key]:
            raise UserError(self.problems[key])

    def fingerprint(self, path: str) -> str:
        """SHA-256 of the file, computed once."""
        if path not in self.fingerprints:
            self.fingerprints[path] = ledger.fingerprint(path)
        return self.fingerprints[path]


def build(job: Job, defaults: dict[str, Any], preset: str | None, outdir: Path, inputs: Inputs) -> None:
    """Give the job its validated Settings, id, input list and hash; UserError for the first problem."""
    given = {**defaults, **job.given}
    if not given.get("output"):
        given["output"] = str(outdir / output_name(given.get("content"), tuple(given.get("style", ())), job.grid))
    s = flags.settings_from({**given, "preset": job.preset or preset}).validated()  # as nst stylize builds them
    if s.device.startswith("cuda"):
        s = s.replace(device="cuda:0")  # Ray gives the task one GPU, which it sees as the first
    elif s.device != "cpu":
        raise UserError(f"--device must be cpu or cuda, not {s.device!r}")
    check_method(s)
    content, styles = content_path(s), style_paths(s)
    s = s.replace(content=content, style=tuple(styles))
    job.inputs = [("content", content)] + [("style", p) for p in styles]
    inputs.check(content, "content image")
    for path in styles:
        inputs.check(path, "style image")
    if is_path("init", s.init):
        inputs.check(s.init, "--init image", min_size=False)
        job.inputs.append(("init", s.init))
    if is_path("weights", s.weights):
        weights.file_format(s.weights)
    for name in OUTPUT_PATHS:
        if getattr(s, name):
            extensions, what = EXTENSIONS[name]
            check_writable(getattr(s, name), extensions, what)
    files = [p for _, p in job.inputs] + ([s.weights] if is_path("weights", s.weights) else [])
    job.settings = s
    job.hash = ledger.settings_hash(s, {p: inputs.fingerprint(p) for p in files})
    out = Path(s.output)
    job.id = str(out.relative_to(outdir)) if out.is_relative_to(outdir) else str(out)


def outputs_of(job: Job) -> list[str]:
    """Every file a job writes (absolute, normalized)."""
    return [os.path.abspath(getattr(job.settings, n)) for n in OUTPUT_PATHS if getattr(job.settings, n)]


def check_all(jobs: list[Job], defaults: dict[str, Any], preset: str | None, outdir: Path) -> list[Job]:
    """Build and check every job; set ``job.error`` on each bad one; return the good ones."""
    inputs = Inputs()
    for job in jobs:
        if job.error is None:
            try:
                build(job, defaults, preset, outdir, inputs)
            except UserError as e:
                job.error = str(e)
    reserved = {os.path.abspath(outdir / name): "the batch's own files" for name in BATCH_FILES}
    read: dict[str, str] = {}
    for job in jobs:
        for _, path in job.inputs if job.error is None else ():
            read.setdefault(os.path.abspath(path), job.label)
    written: dict[str, str] = {}
    for job in jobs:
        if job.error is not None:
            continue
        for path in outputs_of(job):
            if path in reserved:
                job.error = f"{path!r} is one of {reserved[path]}; choose another name"
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
