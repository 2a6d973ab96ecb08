"""Checkpoints: everything needed to continue a run, in one .npz file (numpy arrays and a JSON header).

A checkpoint holds the settings, where the run stands (stage, steps), its history, the trainer's state (the
image or other parameters and the optimizer's state) and fingerprints of the input images, so that a resumed
run gives the same result as one that never stopped. Format 2 holds absolute paths and fingerprints keyed by the
resolved path of each input, so it resumes from any folder; format 1 (relative paths as given) still loads, its
paths meaning what they meant in the folder it is resumed from.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import UserError
from ..core.files import check_input_file
from .outputs import name_max, write_npz

FORMAT = 2
READS = (1, 2)


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
    frames: list[np.ndarray] = field(default_factory=list)  # the animation's frames so far, as PNG bytes
    last_frame_step: int = 0


def fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (read in chunks: an input may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
        "frames": len(ckpt.frames),
        "last_frame_step": ckpt.last_frame_step,
    }
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    arrays.update({f"trainer/{k}": np.asarray(v) for k, v in ckpt.trainer.items()})
    arrays.update({f"frame/{i}": frame for i, frame in enumerate(ckpt.frames)})
    write_npz(path, arrays, "checkpoint")


def load(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint, or UserError if the file is not one."""
    p = Path(path)
    check_input_file(p, "checkpoint", "a checkpoint (.npz)")
    try:
        with np.load(p, allow_pickle=False) as data:
            header = json.loads(data["header"].tobytes().decode())
            trainer = {k.removeprefix("trainer/"): data[k] for k in data.files if k.startswith("trainer/")}
            frames = [data[f"frame/{i}"] for i in range(header.get("frames", 0))]
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise UserError(f"{str(p)!r} is not a checkpoint of nst stylize") from e
    if header.get("format") not in READS:
        raise UserError(f"{str(p)!r} is a checkpoint of another format ({header.get('format')}); start anew")
    fingerprints = header["fingerprints"]
    if header["format"] == 1:  # keyed by the paths as given, relative to the folder the run is resumed from
        fingerprints = {os.path.realpath(k): v for k, v in fingerprints.items()}
    return Checkpoint(
        header["settings"],
        header["stage"],
        header["stage_steps_done"],
        header["history"],
        trainer,
        fingerprints,
        header["backend"],
        frames,
        header.get("last_frame_step", 0),
    )


def default_path(output: str | os.PathLike) -> str:
    """Where an interrupted run without --checkpoint leaves one: out.png -> out.ckpt.npz (the stem shortened
    where the file system could not hold the longer name)."""
    p = Path(output)
    stem, most = p.stem, name_max(p.parent)
    while stem and len(os.fsencode(stem + ".ckpt.npz")) > most:
        stem = stem[:-1]
    return str(p.with_name(stem + ".ckpt.npz"))
