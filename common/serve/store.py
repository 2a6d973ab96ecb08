"""Where nst serve keeps things under --data-dir, and the state of a backend's job read back from its files.

    DATA/uploads/<upload id>.img, .json           an uploaded image (checked) and its description (display name,
                                                  role, size, SHA-256); the id comes from the SHA-256, so the same
                                                  bytes are kept once
    DATA/runs/<run id>/request.json               what was asked: inputs (and the upload each came from), preset,
                                                  settings, backends
    DATA/runs/<run id>/inputs/content.*, style.*  the run's own copies of its input images (deleting an upload
                                                  never touches them)
    DATA/runs/<run id>/<backend>/                 job.json (its settings), result.png, run.json (run record),
                                                  run.ckpt.npz (either method), preview.png, end.json (how the
                                                  worker ended), worker.log, control.json (what the server wants
                                                  of the job: run it, or keep it stopped, and who stopped it)
    DATA/runs/<run id>/compare/                   what nst compare writes (report.html, report.md, ...)

Every name below is chosen here; ids from clients are matched against these patterns and never joined to a
path unchecked. A run's folder is built under a dot-name and renamed into place once complete; a deleted one is
renamed to a dot-name, then removed.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
from pathlib import Path
from typing import Any

from ..core.errors import UserError

RUN_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
UPLOAD_ID = re.compile(r"^u[0-9a-f]{16}$")
# The files a client may download, by key: never a name the client chose.
JOB_FILES = {"result": "result.png", "record": "run.json", "checkpoint": "run.ckpt.npz", "log": "worker.log"}
COMPARE_FILES = {
    "report": "report.html",
    "markdown": "report.md",
    "json": "comparison.json",
    "heatmap": "outputs.png",
    "losses": "losses.png",
}
CONTROL = "control.json"  # in a job's folder: {"want": "run" or "stop", "by": "user", "server" or null}


def new_run_id() -> str:
    """A fresh run id: the time and six random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def upload_id_of(sha256: str) -> str:
    """The id of an upload with these bytes (their SHA-256, in hex): the same bytes, the same id."""
    return "u" + sha256[:16]


def inside(root: Path, *parts: str) -> Path:
    """root/parts, refused (UserError) unless it resolves to a place inside root."""
    base = root.resolve()
    path = base.joinpath(*parts).resolve()
    if not path.is_relative_to(base):
        raise UserError(f"{'/'.join(parts)!r} is outside the data folder")
    return path


def run_folder(data_dir: Path, run_id: str) -> Path:
    """The folder of a run id of the right form (UserError otherwise)."""
    if not RUN_ID.match(run_id):
        raise UserError(f"{run_id!r} is not a run id")
    return inside(data_dir, "runs", run_id)


def upload_path(data_dir: Path, upload_id: str) -> Path:
    """The file of an upload id of the right form (UserError otherwise)."""
    if not UPLOAD_ID.match(upload_id):
        raise UserError(f"{upload_id!r} is not an upload id")
    return inside(data_dir, "uploads", upload_id + ".img")


def read_json(path: Path) -> Any:
    """A JSON file's content, or None if it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def clean(value: Any) -> Any:
    """The value with every non-finite float replaced by None: valid JSON for a browser."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value
