"""Checkpoints: everything needed to continue a run, in one .npz file (numpy arrays and a JSON header).

A checkpoint holds the settings, where the run stands (stage, steps), its history, the trainer's state (the
image or other parameters and the optimizer's state) and fingerprints of the input images, so that a resumed
run gives the same result as one that never stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import UserError
from .outputs import write_atomic

FORMAT = 1


@dataclass
class Checkpoint:
    """A run's state between two steps."""

    settings: dict[str, Any]
    stage: int  # index into the run's stages
    stage_steps_done: int
    history: list[dict[str, Any]]
    trainer: dict[str, np.ndarray]
    fingerprints: dict[str, str]
    backend: str


def fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    """Write a checkpoint atomically."""
    header = {
        "format": FORMAT,
        "settings": ckpt.settings,
        "stage": ckpt.stage,
        "stage_steps_done": ckpt.stage_steps_done,
        "history": ckpt.history,
        "fingerprints": ckpt.fingerprints,
        "backend": ckpt.backend,
    }
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    arrays.update({f"trainer/{k}": np.asarray(v) for k, v in ckpt.trainer.items()})

    def writer(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    write_atomic(path, writer, "checkpoint")


def load(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint, or UserError if the file is not one."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"checkpoint {str(p)!r} does not exist")
    try:
        with np.load(p, allow_pickle=False) as data:
            header = json.loads(data["header"].tobytes().decode())
            trainer = {k.removeprefix("trainer/"): data[k] for k in data.files if k.startswith("trainer/")}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise UserError(f"{str(p)!r} is not a checkpoint of nst stylize") from e
    if header.get("format") != FORMAT:
        raise UserError(f"{str(p)!r} is a checkpoint of another format ({header.get('format')}); start anew")
    return Checkpoint(
        header["settings"],
        header["stage"],
        header["stage_steps_done"],
        header["history"],
        trainer,
        header["fingerprints"],
        header["backend"],
    )


def default_path(output: str | os.PathLike) -> str:
    """Where an interrupted run without --checkpoint leaves one: out.png -> out.ckpt.npz."""
    p = Path(output)
    return str(p.with_name(p.stem + ".ckpt.npz"))
