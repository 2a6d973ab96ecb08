"""A run of nst serve (one request, on one or two backends) and its jobs (one backend each), as the API shows them."""

from __future__ import annotations

import os
import statistics
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..jobs.children import Child
from ..jobs.lifecycle import Outcome, State
from ..jobs.settings import Settings
from . import report
from .store import COMPARE_FILES, CONTROL, JOB_FILES, UPLOAD_ID, clean, read_json


@dataclass
class Job:
    """One backend's job: its folder, and its state (live while a worker runs it, else read from its files)."""

    backend: str
    folder: Path
    total_steps: int
    state: State = State.CANCELLED
    outcome: Outcome | None = None  # how it ended, once it has run
    message: str = ""
    resumable: bool = False
    wanted: str | None = None  # control.json: "run" (the server means to finish it) or "stop" (keep it stopped)
    stopped_by: str | None = None  # who stopped an ended job that can go on: "user", "server", or None (unknown)
    history: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    preview_step: int = 0
    proc: Child | None = None
    stop_requested: bool = False
    peak_rss: int = 0

    def load(self) -> None:
        """Take the state from the job's files (after its worker ended, or when the server starts).

        end.json says how the worker ended (exit code, one-line message); the run record says how the run ended;
        a checkpoint without a record is what a worker killed outright leaves; control.json says whether the
        server meant the job to go on (a server stopped or killed under it) or the user stopped it."""
        end = read_json(self.folder / "end.json") or {}
        record = read_json(self.folder / "run.json")
        control = read_json(self.folder / CONTROL)
        self.history = clean(record["history"]) if isinstance(record, dict) else []
        has_ckpt = (self.folder / JOB_FILES["checkpoint"]).is_file()
        code, self.message = end.get("code"), self.shown(end.get("message", ""))
        if isinstance(record, dict) and code in (None, 0, 130):
            self.outcome = Outcome.of_status(record["status"])
        elif code not in (None, 130):
            known = isinstance(code, int) and code > 0  # not 0 without a record, nor a signal the worker died of
            self.outcome = Outcome.of_exit_code(code) if known else Outcome.FAILED
        else:
            self.outcome = Outcome.INTERRUPTED if has_ckpt else None
        self.state = self.outcome.state if self.outcome else State.CANCELLED
        self.resumable = self.state is State.CANCELLED or (self.state is State.STOPPED and has_ckpt)
        control = control if isinstance(control, dict) else {}
        self.wanted = control.get("want")
        by = control.get("by") or ("server" if self.wanted == "run" else None)  # "run" and no one: a killed server
        self.stopped_by = by = by if self.resumable else None
        if self.state is State.STOPPED:  # its own line: the worker's names the server's files and a CLI command
            last = f"after step {self.history[-1]['step']}" if self.history else "before the first step"
            self.message = f"stopped {last}" + (" when the server stopped" if by == "server" else "")
        self.preview_step = self.history[-1]["step"] if self.history else 0

    def shown(self, message: str) -> str:
        """A worker's message as a client sees it: the job's files by their names, not by the server's paths."""
        for folder in (self.folder, self.folder.parent):
            message = message.replace(f"{folder}{os.sep}", "")
        return message

    def settings(self) -> Settings:
        """The settings its worker runs: job.json's, on the run's shared weights if it has them (weights.json),
        resuming its checkpoint if there is one."""
        s = Settings.from_dict(read_json(self.folder / "job.json")["settings"])
        shared = read_json(self.folder.parent / "weights.json") or {}
        s = s.replace(weights=shared["weights"]) if "weights" in shared else s
        s = s.replace(checkpoint=s.checkpoint or str(self.folder / JOB_FILES["checkpoint"]))  # an older photoreal job
        return s.replace(resume=s.checkpoint) if (self.folder / JOB_FILES["checkpoint"]).is_file() else s

    def view(self, history: bool = True) -> dict[str, Any]:
        """The job as the API shows it."""
        seconds = [h["seconds"] for h in self.history if h.get("seconds") is not None]
        out = {
            "backend": self.backend,
            "state": self.state.value,
            "outcome": self.outcome.value if self.outcome and self.state.ended else None,
            "message": self.message,
            "resumable": self.resumable and self.state.ended,
            "stopped_by": self.stopped_by if self.state.ended else None,
            "checkpoint": self.checkpoint_url(),
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

    def checkpoint_url(self) -> str | None:
        """Where an ended job's checkpoint is downloaded, if it has one (the page offers it beside Resume)."""
        if not self.state.ended or not (self.folder / JOB_FILES["checkpoint"]).is_file():
            return None
        return f"/api/runs/{self.folder.parent.name}/{self.backend}/files/checkpoint"


@dataclass
class Run:
    """One request: its inputs and settings, a job per backend, and the comparison once every one completed."""

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
            job = Job(backend, folder / backend, spec["total_steps"])
            job.load()
            jobs[backend] = job
        return cls(request["id"], folder, request, jobs, report.load(folder))

    def terminal(self) -> bool:
        """Nothing is left to do: every job ended and no comparison is being made."""
        return all(job.state.ended for job in self.jobs.values()) and not self.comparing

    def needs_comparison(self) -> bool:
        """Every backend (two or more) completed and their comparison is not written yet."""
        done = len(self.jobs) >= 2 and all(job.state is State.COMPLETED for job in self.jobs.values())
        return done and self.comparison is None and not self.comparing

    def shares_weights(self) -> bool:
        """Several backends on weights that must first be resolved to one file (auto, imagenet): as nst compare."""
        return len(self.jobs) >= 2 and self.request["settings"].get("weights", "auto") in ("auto", "imagenet")

    def uploads(self) -> set[str]:
        """The ids of the uploads its inputs were copied from."""
        return {upload for role in self.request["inputs"] if (upload := self.upload_of(role))}

    def upload_of(self, role: str) -> str | None:
        """The id of the upload an input was copied from (None: a sample, or a run made before runs kept it)."""
        ref = self.request["inputs"][role].get("ref", "")
        return ref if UPLOAD_ID.match(ref) else None

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
            "inputs": {
                role: {"name": i["name"], "upload": self.upload_of(role)} for role, i in self.request["inputs"].items()
            },
            "weights_note": self.weights_note(),
            "jobs": {name: job.view(history) for name, job in self.jobs.items()},
            "comparison": self.comparison,
            "comparison_files": files if self.comparison else [],
            "comparing": self.comparing,
            "terminal": self.terminal(),
        }
