"""What nst serve keeps under --data-dir, read and removed: its runs by id, its uploads (kept once per content),
and the deletion of either; the part of the run manager (runs.py) that never starts a job."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

from ..core.errors import UserError
from . import intake, store
from .model import Run


class Conflict(UserError):
    """A request that does not fit the run's state (HTTP 409)."""


class Missing(UserError):
    """A run or upload that is not there (HTTP 404)."""


class Inventory:
    """The runs and uploads under one data folder (the Manager sets data_dir, lock and runs)."""

    data_dir: Path
    lock: threading.RLock
    runs: dict[str, Run]

    def get(self, run_id: str) -> Run:
        """A run by id, or UserError."""
        store.run_folder(self.data_dir, run_id)  # refuses ids of the wrong form
        with self.lock:
            if run_id not in self.runs:
                raise Missing(f"no run {run_id!r}")
            return self.runs[run_id]

    def listing(self) -> list[dict[str, Any]]:
        """Every run, newest first, without histories."""
        with self.lock:
            return [run.view(history=False) for run in sorted(self.runs.values(), key=lambda r: r.id, reverse=True)]

    def save_upload(self, tmp: Path, role: str, name: str | None) -> dict[str, Any]:
        """Check an uploaded file (written to tmp inside the data folder) and keep it (the same bytes once); its id
        and description."""
        return intake.save_upload(self.data_dir, tmp, role, name, self.lock)

    def uploads(self) -> list[dict[str, Any]]:
        """Every kept upload's description, newest first."""
        with self.lock:
            return intake.uploads(self.data_dir)

    def delete_upload(self, upload_id: str) -> None:
        """Remove an upload's two files, nothing else; Conflict while a live run was made from it. Runs keep their
        own copies of their inputs: no run, ended or live, needs the upload again."""
        path = store.upload_path(self.data_dir, upload_id)  # refuses ids of the wrong form
        with self.lock:
            if intake.describe_upload(self.data_dir, upload_id) is None:
                raise Missing(f"no upload {upload_id!r}")
            users = [run.id for run in self.runs.values() if upload_id in run.uploads() and not run.terminal()]
            if users:
                raise Conflict(f"upload {upload_id} is an input of run {users[0]}, which is not over; stop it first")
            path.unlink()
            path.with_suffix(".json").unlink()

    def delete_run(self, run_id: str) -> None:
        """Remove a run's folder and nothing else; Conflict while any of its jobs is live or its comparison is being
        written."""
        with self.lock:
            run = self.get(run_id)
            live = [f"{job.backend} {job.state}" for job in run.jobs.values() if not job.state.ended]
            if live or run.comparing:
                doing = ", ".join(live) or "its comparison is being written"
                raise Conflict(f"run {run_id} is not over ({doing}); stop it first")
            trash = store.inside(self.data_dir, "runs", f".del-{run_id}")
            try:
                os.rename(run.folder, trash)  # gone from the listing at once, even if the removal is cut short
            except OSError as e:
                raise UserError(f"run {run_id} cannot be deleted: {e.strerror}") from None
            del self.runs[run_id]
        shutil.rmtree(trash, ignore_errors=True)  # what is left (a full disk, ...) goes when the server starts
