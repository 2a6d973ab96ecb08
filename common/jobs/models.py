"""The HRNet generator's model file, the same for both backends: one array per canonical name plus JSON metadata
(written by ``nst photoreal --save-model``, read by ``nst apply``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import UserError
from ..core.files import check_input_file
from ..core.hrnet import check_arrays
from .outputs import write_npz

FORMAT = "nst-hrnet-generator"
VERSION = 1
META_KEY = "__meta__"


def save_model(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write the generator as .npz: one array per canonical name plus JSON metadata, atomically."""
    arrays = check_arrays(arrays, "the generator")
    header = {"format": FORMAT, "version": VERSION, **meta}
    blob = np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)
    write_npz(path, {META_KEY: blob, **arrays}, "model (--save-model)")


def load_model(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, metadata) of a model file save_model wrote, or UserError in one line for anything else."""
    p = Path(path)
    check_input_file(p, "model", "a model file (.npz)")
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile, ValueError, OSError: all mean "not ours"
        raise UserError(f"model {str(p)!r} is not an nst generator model (.npz): {type(e).__name__}") from e
    try:
        meta = json.loads(data.pop(META_KEY).tobytes().decode())
    except Exception as e:  # missing key, bad JSON, bad bytes
        raise UserError(f"model {str(p)!r} has no nst metadata: it is not a model saved by --save-model") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UserError(f"model {str(p)!r} is not an nst HRNet generator (format {meta.get('format')!r})")
    if meta.get("version") != VERSION:
        raise UserError(f"model {str(p)!r} has format version {meta.get('version')}; this nst reads {VERSION}")
    return check_arrays(data, f"model {str(p)!r}"), meta
