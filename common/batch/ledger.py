"""OUTDIR/batch.jsonl: one line per finished job, appended as each finishes, the batch's memory across runs.

A job is done when its latest line says ``ok`` with the settings hash it has now, and every file it wrote
still exists. A line is written only after the job's files are complete (each written atomically), and each
line is flushed and fsynced before the next job is looked at: a driver killed at any moment loses at most the
jobs in flight, and at worst a last line cut short, which the next run drops. One driver at a time holds the
ledger (an exclusive lock on it); a second one is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..core.errors import UserError
from ..jobs.outputs import leftover_temporaries
from ..jobs.settings import SPECS, Role, Settings, path_settings

NAME = "batch.jsonl"
# Bump when a default that decides a result changes (tests/test_batch_jobs.py pins the defaults to this version): the
# hash leaves out every setting at its default, so that a new setting, added at its default, reruns nothing.
HASH_VERSION = 2
ASKED = tuple(name for name in path_settings(Role.OUTPUT) if name != "output" and not SPECS[name].batch)


def hashed_settings() -> tuple[str, ...]:
    """The settings a job's hash covers: every setting that decides its result, its inputs (by their content), and
    the files it is asked to write besides its image (a rerun that asks for a log writes it)."""
    return tuple(
        name
        for name, spec in SPECS.items()
        if spec.role is Role.INPUT or (spec.role is Role.RECIPE and spec.decides) or name in ASKED
    )


def settings_hash(s: Settings, fingerprints: dict[str, str]) -> str:
    """SHA-256 of what decides a job's result: the hashed settings that are not at their defaults, input paths
    replaced by the SHA-256 of their bytes (so a changed image reruns and a moved one does not)."""
    d, defaults = s.as_dict(), Settings().as_dict()
    values = {name: d[name] for name in hashed_settings() if d[name] != defaults[name]}
    for name in path_settings(Role.INPUT):
        value = values.get(name)
        if isinstance(value, list):
            values[name] = [fingerprints.get(v, v) for v in value]
        elif isinstance(value, str):
            values[name] = fingerprints.get(value, value)
    text = json.dumps({"version": HASH_VERSION, "settings": values}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


class Ledger:
    """The ledger of one output folder, locked for this driver while open."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / NAME
        self.entries: dict[str, dict[str, Any]] = {}  # job id -> its latest line
        self.dropped = 0  # lines that could not be read (a line cut short by a killed driver)
        self._file: Any = None

    def __enter__(self) -> Ledger:
        try:
            self._file = open(self.path, "a+b")
        except OSError as e:
            raise UserError(f"cannot open the batch ledger {str(self.path)!r}: {e.strerror or e}") from e
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            self._file.close()
            raise UserError(f"another nst batch is writing to {str(self.path.parent)!r}; wait for it to end") from e
        self._load()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._file.close()

    def _load(self) -> None:
        self._file.seek(0)
        data = self._file.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a last line cut short: drop it, so the next line starts on its own
            self._file.truncate(end)
            self.dropped += 1
        for raw in data[:end].splitlines():
            try:
                line = json.loads(raw)
                self.entries[line["job"]] = line
            except (ValueError, KeyError, TypeError):
                self.dropped += 1

    def append(self, line: dict[str, Any]) -> None:
        """Add a job's line and make it durable before returning."""
        data = (json.dumps(line, allow_nan=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        try:
            self._file.seek(0, os.SEEK_END)
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as e:
            raise UserError(f"could not write the batch ledger {str(self.path)!r}: {e.strerror or e}") from e
        self.entries[line["job"]] = line

    def state(self, job_id: str, job_hash: str, files: list[str]) -> str:
        """'done', 'failed' (with this hash) or 'todo' for a job."""
        line = self.entries.get(job_id)
        if line is None or line.get("hash") != job_hash:
            return "todo"
        if line.get("status") == "ok":
            return "done" if all(os.path.isfile(f) for f in files) else "todo"
        return "failed"


def remove_stale_temporaries(paths: list[str]) -> int:
    """Delete the temporary files that atomic writes of ``paths`` left when their process was killed mid-write
    (as common/jobs/outputs.py names them: it finds them); return how many."""
    removed = 0
    for leftover in leftover_temporaries(paths):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
            removed += 1
    return removed
