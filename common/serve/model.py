"""A run of nst serve (one request, on one or two backends) and its jobs (one backend each), as the API shows them."""

from __future__ import annotations

import statistics
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import report, store
from .store import COMPARE_FILES, JOB_FILES, TERMINAL, read_json

LIVE = ("queued", "starting", "running", "stopping")


@dataclass
class Job:
    """One backend's job: its folder, and its state (live while a worker runs it, else read from its files)."""

    backend: str
    folder: Path
    total_steps: int
    checkpoints: bool  # the Gatys method checkpoints (and so resumes); the photoreal method does not
    state: str = "cancelled"
    message: str = ""
    resumable: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    preview_step: int = 0
    proc: subprocess.Popen | None = None
    stop_requested: bool = False
    peak_rss: int = 0

    def load(self) -> None:
        """Take the state from the job's files (after its worker ended, or when the server starts)."""
        found = store.job_state(self.folder, self.checkpoints)
        self.state, self.message, self.resumable, self.history = (
            found["state"],
            found["message"],
            found["resumable"],
            found["history"],
        )
        self.preview_step = self.history[-1]["step"] if self.history else 0

    def view(self, history: bool = True) -> dict[str, Any]:
        """The job as the API shows it."""
        seconds = [h["seconds"] for h in self.history if h.get("seconds") is not None]
        out = {
            "backend": self.backend,
            "state": self.state,
            "message": self.message,
            "resumable": self.resumable and self.state in TERMINAL,
            "total_steps": self.total_steps,
            "step": self.history[-1]["step"] if self.history else 0,
            "last": self.history[-1] if self.history else None,
            "seconds_per_step": statistics.median(seconds) if seconds else None,
            "preview_step": self.preview_step,
            "warnings": self.warnings,
            "files": [key for key, name in JOB_FILES.items() if (self.folder / name).is_file()],
        }
        if history:
            out["history"] = self.history
        return out


@dataclass
class Run:
    """One request: its inputs and settings, a job per backend, and the comparison once both completed."""

    id: str
    folder: Path
    request: dict[str, Any]
    jobs: dict[str, Job]
    comparison: dict[str, Any] | None = None
    comparing: bool = False
    weights_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, folder: Path) -> Run:
        """A run from its folder, every job's state from its files."""
        request = read_json(folder / "request.json")
        jobs = {}
        for backend in request["backends"]:
            spec = read_json(folder / backend / "job.json")
            job = Job(backend, folder / backend, spec["total_steps"], spec["settings"]["method"] == "gatys")
            job.load()
            jobs[backend] = job
        return cls(request["id"], folder, request, jobs, report.load(folder))

    def terminal(self) -> bool:
        """Nothing is left to do: every job ended and no comparison is being made."""
        return all(job.state in TERMINAL for job in self.jobs.values()) and not self.comparing

    def needs_comparison(self) -> bool:
        """Both backends completed and their comparison is not written yet."""
        done = len(self.jobs) == 2 and all(job.state == "completed" for job in self.jobs.values())
        return done and self.comparison is None and not self.comparing

    def shares_weights(self) -> bool:
        """Two backends on weights that must first be resolved to one file (auto, imagenet): as nst compare."""
        return len(self.jobs) == 2 and self.request["settings"].get("weights", "auto") in ("auto", "imagenet")

    def weights_note(self) -> str:
        """What weights.json says about the shared weights, if anything."""
        shared = read_json(self.folder / "weights.json") or {}
        return shared.get("note", "")

    def view(self, history: bool = True) -> dict[str, Any]:
        """The run as the API shows it."""
        files = [k for k, name in COMPARE_FILES.items() if (self.folder / "compare" / name).is_file()]
        return {
            "id": self.id,
            "created": self.request["created"],
            "preset": self.request["preset"],
            "settings": self.request["settings"],
            "inputs": {role: {"name": i["name"]} for role, i in self.request["inputs"].items()},
            "weights_note": self.weights_note(),
            "jobs": {name: job.view(history) for name, job in self.jobs.items()},
            "comparison": self.comparison,
            "comparison_files": files if self.comparison else [],
            "comparing": self.comparing,
            "terminal": self.terminal(),
        }
