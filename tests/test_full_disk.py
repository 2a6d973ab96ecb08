"""A disk that fills while an .npz is written (a checkpoint, --save-model): one line, exit 2, nothing left behind.

The disk is made "full" for the run's process alone with RLIMIT_FSIZE (a write past the limit fails with EFBIG, as
one on a full disk fails with ENOSPC): no mount, no root. numpy's zip writer, failing midway, once left a half-closed
archive whose cleanup printed a ZipFile traceback after the error's line.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LIMIT = 100_000  # bytes: the 64x64 image (about 10 kB) fits, the checkpoint (150 kB) and the model (280 kB) do not


def limited() -> None:
    """In the child: files may not grow past LIMIT, and growing one fails the write instead of killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.mark.parametrize(
    ("command", "flag", "what"),
    [("stylize", "--checkpoint", "checkpoint"), ("photoreal", "--save-model", "model (--save-model)")],
)
def test_a_full_disk_while_writing_an_npz_ends_in_one_line(command, flag, what, tmp_path: Path) -> None:
    argv = [sys.executable, str(ROOT / "cli.py"), command, "--size", "64", "64", "--steps", "2", "--weights", "random"]
    argv += ["--output", "out.png", flag, "saved.npz", "--quiet"]
    r = subprocess.run(argv, cwd=tmp_path, preexec_fn=limited, capture_output=True, text=True, timeout=600)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr, r.stderr
    assert len(lines) == 1 and lines[0].startswith(f"nst: error: could not write {what}"), r.stderr
    assert not (tmp_path / "saved.npz").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "out.png"] == []  # no temporary file left
