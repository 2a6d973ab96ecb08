"""``nst batch`` on the command line: its description, its own flags (as data, for cli.py) and the call."""

from __future__ import annotations

import argparse
from typing import Any

from .driver import run
from .summary import Report

ABOUT = {
    "description": "Run many nst stylize / photoreal jobs on Ray (a local instance on 127.0.0.1, or a cluster "
    "with --address), from a manifest (CSV or JSON Lines, a row per job, columns named as the settings) or a "
    "grid (--content x --style x --grid). The other flags are defaults for every job. Finished jobs are "
    "recorded in OUTPUT_DIR/batch.jsonl and skipped when the command runs again. Exit 0: all jobs ok; 1: "
    "some failed; 2: bad input (nothing run); 130: interrupted. Needs pip install 'nst-crossframe[batch]'."
}
# The flags of nst batch besides those of nst stylize (less flags.BATCH_SKIPS), which are every job's defaults.
FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("manifest",), {"nargs": "?", "help": "a .csv or .jsonl manifest (instead of --content/--style)"}),
    (("--content",), {"nargs": "+", "metavar": "PATH", "help": "content images: files, folders or globs"}),
    (("--style",), {"nargs": "+", "metavar": "PATH", "help": "style images, one per column of the grid"}),
    (("--grid",), {"action": "append", "metavar": "NAME=V1,V2", "help": "also cross with these values (repeatable)"}),
    (("--output-dir",), {"required": True, "metavar": "DIR", "help": "results, ledger and summary go here"}),
    (("--workers",), {"type": int, "help": "jobs at once (default: cores / threads, or the cluster's)"}),
    (("--threads-per-job",), {"type": int, "default": 1, "metavar": "T", "help": "threads of each job (default 1)"}),
    (("--address",), {"help": "join a Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: local)"}),
    (("--max-retries",), {"type": int, "default": 3, "help": "reruns of a job whose worker or node died"}),
    (("--retry-failed",), {"action": "store_true", "help": "run again the jobs that failed before"}),
    (("--skip-invalid",), {"action": "store_true", "help": "run the valid jobs even if some are invalid"}),
    (("--quiet",), {"action": "store_true", "help": "no progress bar"}),
)


def run_command(args: argparse.Namespace, given: tuple[dict[str, Any], str | None]) -> Report:
    """Run the batch the parsed arguments describe; ``given`` is the stylize settings given as flags, and the
    preset (every job's defaults)."""
    defaults, preset = given
    return run(
        args.output_dir,
        args.manifest,
        args.content or (),
        args.style or (),
        args.grid,
        defaults,
        preset,
        workers=args.workers,
        threads_per_job=args.threads_per_job,
        address=args.address,
        max_retries=args.max_retries,
        retry_failed=args.retry_failed,
        skip_invalid=args.skip_invalid,
        progress=not args.quiet,
    )
