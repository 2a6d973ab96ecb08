"""The run manager: creates runs under --data-dir, queues their jobs, runs at most max_runs workers at once,
stops and resumes them, compares the finished backends of a run, and when the server starts again finds every run and
resumes the jobs a server stop interrupted (control.json says which: not those the user stopped)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import UserError
from ..jobs import children, presets
from ..jobs.lifecycle import Notice, State, Step
from . import child, intake, report, store
from .events import Hub
from .inventory import Conflict, Inventory
from .model import Job, Run


class Manager(Inventory):
    """Every run under one data folder; all changes happen under self.lock, and each is published to the hub."""

    def __init__(self, data_dir: str | os.PathLike, max_runs: int = 2, threads: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        for sub in ("runs", "uploads"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        self.max_runs = max_runs
        self.threads = threads or max(1, (os.cpu_count() or 1) // max_runs)
        self.lock = threading.RLock()
        self.hub = Hub()
        self.queue: deque[tuple[Run, Job]] = deque()
        self.running: set[int] = set()
        self.closing = False
        self.threads_started: list[threading.Thread] = []
        self.runs: dict[str, Run] = {}
        for folder in sorted((self.data_dir / "runs").iterdir()):
            if folder.name.startswith((".new-", ".del-")):  # a creation or a deletion that never finished
                shutil.rmtree(folder, ignore_errors=True)
            elif store.RUN_ID.match(folder.name) and (folder / "request.json").is_file():
                try:
                    run = Run.open(folder)
                except (TypeError, KeyError, AttributeError) as e:  # damaged by hand: list the others
                    print(
                        f"warning: {folder} is not a readable run ({type(e).__name__}: {e}); skipped", file=sys.stderr
                    )
                    continue
                self.runs[run.id] = run
                if run.needs_comparison():
                    run.comparing = True
                    self._thread(self._compare, run)

    def attach(self, run_id: str) -> tuple[Any, dict[str, Any]]:
        """Listen to a run's events and take its snapshot, atomically (see events.stream)."""
        run = self.get(run_id)
        with self.lock:
            queue = self.hub.listen(run_id)
            return queue, {"type": "snapshot", "run": run.view(), "terminal": run.terminal() or self.closing}

    # --- new runs

    def create(self, content: str, style: str, backends: list[str], preset: str | None, given: dict) -> Run:
        """Check a request as the CLI would, build the run's folder (complete, or not at all), queue its jobs."""
        if self.closing:
            raise Conflict("the server is shutting down")
        explicit = intake.explicit_settings(given)
        if preset is not None:
            presets.get(preset)
        backends = list(dict.fromkeys(backends))
        if not backends:
            raise UserError("choose at least one backend")
        run_id = store.new_run_id()
        final = store.run_folder(self.data_dir, run_id)
        staging = store.inside(self.data_dir, "runs", f".new-{run_id}")
        (staging / "inputs").mkdir(parents=True)
        try:
            request = intake.build_run(self.data_dir, staging, final, (content, style), backends, preset, explicit)
            intake.write_json(staging / "request.json", request)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        with self.lock:
            run = Run.open(final)
            self.runs[run_id] = run
            for job in run.jobs.values():
                self._enqueue(run, job)
            self._schedule()
            return run

    # --- stopping and resuming

    def stop(self, run_id: str, backend: str | None = None) -> Run:
        """Stop a run's jobs (or one): a queued job is taken off the queue; a running one gets SIGINT, as Ctrl-C.
        They stay stopped (a restarted server does not resume them) until Resume."""
        with self.lock:
            run = self.get(run_id)
            for job in self._jobs(run, backend):
                if job.state is State.QUEUED:
                    self.queue = deque(item for item in self.queue if item[1] is not job)
                    self._control(job, "stop", "user")
                    job.load()
                    self._changed(run, job)
                elif job.state in (State.STARTING, State.RUNNING):
                    self._control(job, "stop", "user")
                    job.stop_requested, job.state = True, State.STOPPING
                    if job.proc is not None:
                        job.proc.send_signal(signal.SIGINT)
                    self._changed(run, job)
            return run

    def resume(self, run_id: str, backend: str | None = None) -> Run:
        """Queue again the stopped (or never started) jobs of a run; a checkpoint is continued, as --resume does
        (either method)."""
        with self.lock:
            run = self.get(run_id)
            if self.closing:
                raise Conflict("the server is shutting down")
            chosen = [job for job in self._jobs(run, backend) if job.resumable and job.state.ended]
            if not chosen:
                states = ", ".join(f"{j.backend} {j.state}" for j in self._jobs(run, backend))
                raise Conflict(f"nothing to resume ({states})")
            for job in chosen:
                job.message, job.warnings = "", []
                self._enqueue(run, job)
            self._schedule()
            return run

    def resume_interrupted(self) -> None:
        """When the server starts: queue again every job a server stop (or a killed server) interrupted; those the
        user stopped stay stopped."""
        with self.lock:
            for run in sorted(self.runs.values(), key=lambda r: r.id):
                for job in run.jobs.values():
                    if job.state.ended and job.resumable and job.wanted == "run":
                        job.message, job.warnings = "", []
                        self._enqueue(run, job)
            self._schedule()

    def _jobs(self, run: Run, backend: str | None) -> list[Job]:
        if backend is None:
            return list(run.jobs.values())
        if backend not in run.jobs:
            raise UserError(f"run {run.id} has no {backend} job")
        return [run.jobs[backend]]

    # --- scheduling and workers

    def _enqueue(self, run: Run, job: Job) -> None:
        self._control(job, "run", None)
        job.state, job.stop_requested = State.QUEUED, False
        self.queue.append((run, job))
        self._changed(run, job)

    def _control(self, job: Job, want: str, by: str | None) -> None:
        """Keep what the server wants of a job (run it, or keep it stopped) and who stopped it, for a restart."""
        with contextlib.suppress(UserError):  # unwritable: the job still runs or stops; a restart knows less
            intake.write_json(job.folder / store.CONTROL, {"want": want, "by": by})
        job.wanted = want

    def _changed(self, run: Run, job: Job | None = None) -> None:
        """Publish a job's new state, and "end" if the run has nothing left to do (call under self.lock)."""
        if job is not None:
            self.hub.publish(run.id, {"type": "job", "backend": job.backend, "job": job.view(history=False)})
        if run.terminal():
            self.hub.publish(run.id, {"type": "end", "run": run.view(history=False)})

    def _schedule(self) -> None:
        """Start queued jobs while fewer than max_runs workers run (call under self.lock)."""
        while not self.closing and self.queue and len(self.running) < self.max_runs:
            run, job = self.queue.popleft()
            self.running.add(id(job))
            job.state = State.STARTING
            self._changed(run, job)
            self._thread(self._supervise, run, job)

    def _thread(self, target: Callable[..., object], *args: object) -> None:
        """Run target(*args) on a daemon thread, kept in threads_started."""
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads_started.append(thread)
        thread.start()

    def _supervise(self, run: Run, job: Job) -> None:
        """One job from start to end, on its own thread; then what its end makes due."""
        try:
            if run.shares_weights():
                self._share_weights(run, job)
            self._work(run, job)
        finally:
            with self.lock:
                self.running.discard(id(job))
                job.proc = None
                job.load()
                if job.resumable and job.wanted == "run" and not (self.closing or job.stop_requested):
                    self._control(job, "stop", None)  # stopped by no one here (a signal from outside): left so
                    job.load()
                compare = run.needs_comparison() and not self.closing
                run.comparing = run.comparing or compare
                self._changed(run, job)
                self._schedule()
        if compare:
            self._compare(run)

    def _share_weights(self, run: Run, job: Job) -> None:
        """Before the first worker of a several-backend run on auto/imagenet weights: decide the weights all load."""
        with run.weights_lock:
            if not (run.folder / "weights.json").is_file():
                spec = {"run": str(run.folder)}
                children.run(
                    child.shared_weights, spec, log=run.folder / "worker.log", cwd=run.folder, threads=self.threads
                )
        shared = store.read_json(run.folder / "weights.json") or {"error": "the shared weights could not be decided"}
        if "error" in shared:
            intake.write_json(job.folder / "end.json", {"code": 2, "message": shared["error"]})
            job.stop_requested = True  # nothing to run

    def _work(self, run: Run, job: Job) -> None:
        """Run the job in its worker process, turning its events into published state."""
        with self.lock:
            if job.stop_requested or self.closing:
                return
            with contextlib.suppress(FileNotFoundError):
                (job.folder / "end.json").unlink()
            try:
                s = job.settings()
            except Exception as e:  # a job.json damaged by hand: say so on the page, as a worker would
                message = f"internal error: {type(e).__name__}: {e}"
                intake.write_json(job.folder / "end.json", {"code": 1, "message": message})
                return
            files = {"picture": "preview.png", "end_file": "end.json", "log": "worker.log"}
            where = {key: job.folder / name for key, name in files.items()}
            job.proc = children.start_job(s, **where, cwd=job.folder, threads=self.threads)
        end = job.proc.wait(lambda event: self._event(run, job, event), self.lock)
        job.peak_rss = max(job.peak_rss, end.peak_rss)
        if end.code != 0 and not (job.folder / "end.json").is_file() and not job.stop_requested:
            message = f"the worker ended with exit code {end.code} (see worker.log)"
            intake.write_json(job.folder / "end.json", {"code": end.code, "message": message})

    def _event(self, run: Run, job: Job, event: Step | Notice) -> None:
        with self.lock:
            if isinstance(event, Step):
                record = store.clean(event.record.as_dict())
                job.history.append(record)
                job.state = State.RUNNING if job.state is State.STARTING else job.state
                job.preview_step = record["step"] if event.picture else job.preview_step
                out = {"type": "step", "backend": job.backend, "record": record, "preview_step": job.preview_step}
                self.hub.publish(run.id, {**out, "state": job.state.value})
            else:
                job.warnings.append(event.message)
                self._changed(run, job)

    def _compare(self, run: Run) -> None:
        """Write the comparison of a run's two completed backends, then publish it."""
        try:
            rss = {name: job.peak_rss for name, job in run.jobs.items()}
            comparison = report.write(run.folder, list(run.jobs), rss, run.weights_note())
        except Exception as e:  # the results are kept whatever happens here; say why there is no comparison
            comparison = {"error": f"the comparison failed: {type(e).__name__}: {e}"}
        with self.lock:
            run.comparison, run.comparing = comparison, False
            self.hub.publish(run.id, {"type": "comparison", "comparison": comparison})
            self._changed(run)

    # --- shutting down

    def begin_shutdown(self) -> None:
        """Start no worker; stop every running one as Ctrl-C does (they write image, record and checkpoint)."""
        with self.lock:
            self.closing = True
            for run, job in list(self.queue):
                self._control(job, "run", "server")  # a restarted server starts it
                job.load()
                self._changed(run, job)
            self.queue.clear()
            for run in self.runs.values():
                for job in run.jobs.values():
                    if job.state in (State.STARTING, State.RUNNING):
                        self._control(job, "run", "server")  # a restarted server resumes it
                    if job.state in (State.STARTING, State.RUNNING, State.STOPPING):
                        job.stop_requested, job.state = True, State.STOPPING
                        if job.proc is not None:
                            job.proc.send_signal(signal.SIGINT)
            self.hub.close_all()

    def shutdown(self, timeout: float = 120.0) -> None:
        """Stop everything and wait for the workers to end (their results written)."""
        self.begin_shutdown()
        deadline = time.monotonic() + timeout
        for thread in list(self.threads_started):
            thread.join(max(0.0, deadline - time.monotonic()))
