"""The driver's side of a running batch: jobs go to Ray tasks, results come back and become files and lines.

Inputs travel through Ray's object store (each file put once, however many jobs use it, and released when
its last job is done), so workers need no shared file system. Results are handled one at a time, completely:
the job's files are written atomically, then its ledger line is appended and fsynced. Ray retries a task whose
worker process or node died (up to ``max_retries`` times); a task's result reaches the driver once, so a job
is recorded once however often it ran.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..core.errors import UserError
from ..jobs import record
from ..jobs.lifecycle import Outcome
from ..jobs.outputs import write_atomic
from . import worker
from .checks import outputs_of
from .ledger import Ledger
from .manifest import Job

ROOT = Path(__file__).resolve().parents[2]  # the folder that holds common/ (a checkout) or nst/ (installed)


def worker_environment(threads: int, extra: dict[str, str]) -> dict[str, str]:
    """Environment variables of every worker process: thread counts set before any framework is imported."""
    env = {"OMP_NUM_THREADS": str(threads), "MKL_CBWR": "AUTO,STRICT", **extra}
    if __name__.startswith("common."):  # a checkout: workers must import this package from the same folder
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return env


def one_line(e: BaseException) -> str:
    """A Ray error as one short line."""
    cause = getattr(e, "cause", None)
    text = f"{type(cause).__name__}: {cause}" if isinstance(cause, BaseException) else f"{type(e).__name__}: {e}"
    return " ".join(text.split())[:400]


class Scheduler:
    """Submits jobs to Ray, at most ``slots`` running plus as many queued, and records each result."""

    def __init__(
        self, ray: Any, jobs: list[Job], ledger: Ledger, slots: int, threads: int, options: dict[str, Any]
    ) -> None:
        self.ray, self.ledger, self.slots, self.threads = ray, ledger, slots, threads
        self.pending = deque(jobs)
        self.inflight: dict[Any, tuple[Job, float, int]] = {}
        self.task = ray.remote(worker.run_job)
        self.task_options = {
            "num_cpus": threads,
            "max_retries": options["max_retries"],
            "retry_exceptions": [worker.Retry],
            "runtime_env": {"env_vars": worker_environment(threads, options.get("worker_env", {}))},
        }
        self.command = record.dumps_argv()
        self.blobs: dict[str, list[Any]] = {}  # path -> [object ref, jobs still to use it]
        for job in jobs:
            for _, path in job.inputs:
                self.blobs.setdefault(path, [None, 0])[1] += 1
        self.weights: dict[str, dict[str, Any]] = {}
        self.counts = {"ok": 0, "failed": 0}
        self.job_cpu = 0.0  # the driver's CPU seconds spent on jobs (inputs out, results in), not on waiting
        self.on_result: Callable[[], None] = lambda: None

    def _put(self, path: str) -> tuple[Any, int]:
        entry = self.blobs[path]
        if entry[0] is None:
            data = Path(path).read_bytes()
            entry[0] = (self.ray.put(data), len(data))
        return entry[0]

    def _release(self, job: Job) -> None:
        for _, path in job.inputs:
            entry = self.blobs[path]
            entry[1] -= 1
            if entry[1] == 0:
                entry[0] = None  # the object store frees it once no reference is left

    def _weights(self, path: str) -> dict[str, Any] | None:
        """A weights file shipped once through the object store (workers fetch it once per process)."""
        if path in ("auto", "imagenet", "random"):
            return None
        if path not in self.weights:
            data = Path(path).read_bytes()
            fp = hashlib.sha256(data).hexdigest()
            self.weights[path] = {"fingerprint": fp, "suffix": Path(path).suffix, "ref": [self.ray.put(data)]}
        return self.weights[path]

    def submit(self, job: Job) -> None:
        """Send a job to Ray (or record it failed if an input can no longer be read)."""
        s = job.settings
        try:
            refs = [self._put(path) for _, path in job.inputs]
            weights = self._weights(s.weights)
        except OSError as e:
            self.record(job, {"status": "failed", "error": f"cannot read an input: {e.strerror or e}"}, time.time())
            return
        spec = {
            "job": job.id,
            "settings": s.as_dict(),
            "inputs": [{"field": f, "suffix": Path(p).suffix} for f, p in job.inputs],
            "weights": weights,
            "threads": self.threads,
            "command": self.command,
        }
        options = {**self.task_options, "num_gpus": 1 if s.device.startswith("cuda") else 0}
        ref = self.task.options(**options).remote(spec, *(r for r, _ in refs))
        self.inflight[ref] = (job, time.time(), sum(n for _, n in refs))

    def run(self, stop_requested: Callable[[], bool]) -> bool:
        """Run every job; False if stopped by a signal (the jobs in flight are cancelled, nothing of them kept)."""
        while self.pending or self.inflight:
            while self.pending and len(self.inflight) < 2 * self.slots and not stop_requested():
                cpu = time.process_time()
                self.submit(self.pending.popleft())
                self.job_cpu += time.process_time() - cpu
                self.on_result()
            if self.inflight:
                ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=0.25)
                cpu = time.process_time()
                for ref in ready:
                    self.finish(ref)
                self.job_cpu += time.process_time() - cpu
            if stop_requested():
                self.cancel()
                return False
        return True

    def cancel(self) -> None:
        """Cancel every job in flight; none of them is recorded."""
        for ref in self.inflight:
            try:
                self.ray.cancel(ref, force=True)
            except Exception as e:  # already finished or its worker already gone
                print(f"nst: could not cancel a job: {one_line(e)}", file=sys.stderr)
        self.inflight.clear()

    def finish(self, ref: Any) -> None:
        """Take one finished task's result: write its files, then its ledger line."""
        job, submitted, bytes_in = self.inflight.pop(ref)
        try:
            result = self.ray.get(ref)
        except Exception as e:  # the task's worker or node died more often than max_retries, or Ray failed
            result = {"status": "failed", "error": f"the job's task failed in Ray: {one_line(e)}"}
        result["bytes_in"] = bytes_in
        self.record(job, result, submitted)
        self._release(job)

    def record(self, job: Job, result: dict[str, Any], submitted: float) -> None:
        """Write a job's files atomically, then append its line to the ledger."""
        s, written = job.settings, []
        try:
            for field, data in result.get("files", {}).items():
                path = getattr(s, field)
                write_atomic(path, lambda tmp, data=data: Path(tmp).write_bytes(data), field)
                written.append(os.path.abspath(path))
            if s.log and result.get("record"):
                record.write(s.log, result["record"])
                written.append(os.path.abspath(s.log))
        except UserError as e:
            result.update(status="failed", error=str(e))
        missing = [p for p in outputs_of(job) if p not in written]
        if result["status"] == "ok" and missing:
            result.update(status="failed", error=f"the job did not write {missing[0]!r}")
        self.ledger.append(line(job, result, submitted, written))
        self.counts["ok" if result["status"] == "ok" else "failed"] += 1
        self.on_result()


def line(job: Job, result: dict[str, Any], submitted: float, written: list[str]) -> dict[str, Any]:
    """A job's ledger line."""
    run = result.get("record") or {}
    history = run.get("history") or []
    last = history[-1] if history else {}
    seconds = sorted(h["seconds"] for h in history)
    return {
        "job": job.id,
        "hash": job.hash,
        "status": result["status"],
        "outcome": result.get("outcome", Outcome.FAILED.value),  # how the job itself ended (the status: the batch's)
        "row": job.label,
        "output": os.path.abspath(job.settings.output),
        "files": written,
        "error": result.get("error"),
        "detail": result.get("detail"),
        "steps": len(history),
        "seconds_per_step": seconds[len(seconds) // 2] if seconds else None,
        "losses": {k: last[k] for k in ("content", "style", "tv", "total") if k in last},
        "weights": run.get("weights"),
        "versions": run.get("versions"),
        "worker": result.get("worker"),
        "seconds": round(result["ended"] - result["started"], 3) if "ended" in result else None,
        "submitted": submitted,
        "started": result.get("started"),
        "ended": result.get("ended"),
        "received": time.time(),
        "bytes_in": result.get("bytes_in", 0),
        "bytes_out": sum(len(d) for d in result.get("files", {}).values()),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
