"""A worker process of nst serve: one backend's job, run by common.job.stylize as `nst stylize` runs it.

    python -m <package>.serve.child JOB_FOLDER EVENTS_FD [--resume]
    python -m <package>.serve.child --shared-weights RUN_FOLDER EVENTS_FD

Progress goes to the pipe EVENTS_FD as JSON lines (a "step" event per step; the current picture is written to
preview.png, atomically, at most every PREVIEW_SECONDS); how the worker ended goes to end.json. SIGINT and
SIGTERM stop the job as Ctrl-C stops nst stylize: image, run record and checkpoint written, exit 130. If the
server dies, the kernel sends this process SIGTERM (PR_SET_PDEATHSIG), so the job still ends that way.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from .. import compare, images, job, outputs
from ..errors import NSTError
from ..settings import Settings
from ..training import StepRecord

PREVIEW_SECONDS = 0.5
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the server dies; if it already has, stop now (the job checkpoints)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the server's own shutdown still stops workers
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = os.environ.get("NST_SERVE_PARENT")
    if parent and os.getppid() != int(parent):
        os.kill(os.getpid(), signal.SIGTERM)


class Events:
    """JSON lines to the server's pipe; a server that is gone is not an error (the job still finishes)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, event: dict[str, Any]) -> None:
        """Send one event."""
        with contextlib.suppress(OSError):
            os.write(self.fd, (json.dumps(event) + "\n").encode())


class Progress:
    """The job's observer: a step event per step, and preview.png when it is due (first and last step, and
    otherwise at most every PREVIEW_SECONDS)."""

    def __init__(self, send: Events, folder: Path, total_steps: int) -> None:
        self.send, self.preview, self.total_steps = send, folder / "preview.png", total_steps
        self.last = -float("inf")

    def __call__(self, record: StepRecord, picture: Callable[[], Image.Image]) -> None:
        """Report one step."""
        now = time.monotonic()
        due = self.last == -float("inf") or record.step >= self.total_steps or now - self.last >= PREVIEW_SECONDS
        if due:
            images.save_image(picture(), self.preview)
            self.last = now
        self.send({"type": "step", "record": record.as_dict(), "preview": due})


def finish(folder: Path, code: int, message: str) -> int:
    """Write end.json (exit code and one-line message) and return the code."""
    end = json.dumps({"code": code, "message": message}) + "\n"
    outputs.write_text(folder / "end.json", end, "end.json")
    return code


def run_job(folder: Path, send: Events, resume: bool) -> int:
    """Run the job of folder/job.json; its exit code, as the CLI's."""
    spec = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    s = Settings.from_dict(spec["settings"])
    shared = folder.parent / "weights.json"
    if shared.is_file():
        s = s.replace(weights=json.loads(shared.read_text(encoding="utf-8"))["weights"])
    if resume:
        s = s.replace(resume=s.checkpoint)

    def say(message: str) -> None:
        job.warn(message)
        send({"type": "warning", "message": message})

    try:
        job.stylize(s, say=say, observer=Progress(send, folder, spec["total_steps"]))
    except NSTError as e:
        print(f"nst: {'error: ' if e.exit_code == 2 else ''}{e}", file=sys.stderr)
        return finish(folder, e.exit_code, str(e))
    return finish(folder, 0, "")


def shared_weights(run: Path) -> int:
    """Decide the weights both backends of a run load (as nst compare does): weights.json."""
    request = json.loads((run / "request.json").read_text(encoding="utf-8"))
    s = Settings(weights=request["settings"].get("weights", "auto"), seed=request["settings"].get("seed", 0))
    try:
        spec, note = compare.shared_weights(s, run, job.warn)
    except NSTError as e:
        print(f"nst: error: {e}", file=sys.stderr)
        outputs.write_text(run / "weights.json", json.dumps({"error": str(e)}) + "\n", "weights.json")
        return e.exit_code
    outputs.write_text(run / "weights.json", json.dumps({"weights": spec, "note": note}) + "\n", "weights.json")
    return 0


def main(argv: list[str]) -> int:
    """Run what the arguments say; the exit code."""
    with job.stop_on_signals():
        die_with_parent()
        if argv[0] == "--shared-weights":
            return shared_weights(Path(argv[1]))
        folder, send = Path(argv[0]), Events(int(argv[1]))
        try:
            return run_job(folder, send, "--resume" in argv[2:])
        except Exception as e:  # a bug, not the user's doing: its traceback to worker.log, one line to the page
            traceback.print_exc()
            return finish(folder, 1, f"internal error: {type(e).__name__}: {e} (see worker.log)")


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # as the CLI: no slow interpreter shutdown after a framework, no signal lost in it
