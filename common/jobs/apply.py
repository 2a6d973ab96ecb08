"""``nst apply``: stylize images with a generator that ``nst photoreal --save-model`` saved (by either backend),
without training."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.errors import UserError
from ..core.hrnet import check_size
from ..core.interface import Backend, load_backend
from ..core.registry import NAMES, check_name
from . import images, outputs, paths
from .models import load_model
from .outputs import IMAGE_EXTENSIONS, check_writable
from .run import Say, warn, warn_if_squashed
from .settings import DTYPES


def output_paths(model: str | os.PathLike, inputs: Sequence[str], output_dir: str) -> list[str]:
    """D/<stem>.png for each input; UserError if the folder cannot be made, two inputs share a name or an output
    is any input (by any spelling or link)."""
    folder = Path(output_dir)
    outputs.check_folder(folder, "--output-dir")
    written = [str(folder / f"{Path(p).stem}.png") for p in inputs]
    seen: dict[str, str] = {}
    for path, source in zip(written, inputs, strict=True):
        if path in seen:
            raise UserError(f"{seen[path]!r} and {source!r} would both be written to {path!r}; rename one")
        seen[path] = source
        if folder.is_dir():
            check_writable(path, IMAGE_EXTENSIONS, "--output-dir image")
        else:
            outputs.check_name_fits(path, "--output-dir image")
    sources = [("MODEL", str(model))] + [("IMAGE", p) for p in inputs]
    paths.check_distinct(sources, [("--output-dir", p) for p in written])
    for path, source in zip(written, inputs, strict=True):
        images.check_derived_image(path, applied_mark(source), "--output-dir image", "choose another --output-dir")
    return written


def apply(
    model: str | os.PathLike,
    inputs: Sequence[str],
    output_dir: str,
    backend: str = NAMES[0],
    size: tuple[int, int] | None = None,
    dtype: str | None = None,
    ops: Backend | None = None,
    say: Say = warn,
) -> list[str]:
    """Stylize images with a saved generator (from either backend), without training; return the files written.

    Each image keeps its own size (both sides must be divisible by 4), or is resized to ``size``. Every input
    is read and checked before anything is computed, and every result computed before any file (or the output
    folder, created with its parents where it is missing) is written.
    """
    try:
        check_name(backend)
    except ValueError as e:
        raise UserError(str(e)) from e
    arrays, meta = load_model(model)
    if not inputs:
        raise UserError("give at least one image to stylize")
    written = output_paths(model, inputs, output_dir)
    if size is not None:
        check_size(size, "--size")
    loaded = []
    for path in inputs:
        img = images.load_image(path, "image")
        at = size or (img.size[1], img.size[0])
        check_size(at, f"image {path!r}")
        if size is not None:
            warn_if_squashed(img, size, f"image {path!r}", say)
        loaded.append((img, at))
    ops = ops or load_backend(backend)
    dtype = dtype or meta.get("dtype", "float32")
    normalize = bool(meta.get("normalize", True))
    generator = ops.generator(arrays, dtype)
    results = [ops.postprocess(generator(ops.preprocess(img, at, dtype, normalize)), normalize) for img, at in loaded]
    outputs.make_folder(output_dir, "--output-dir")
    for img, path, source in zip(results, written, inputs, strict=True):
        images.save_image(img, path, mark=applied_mark(source))
    return written


def applied_mark(source: str) -> str:
    """What a result of nst apply says it is (images.written_by): a generator's result for this input."""
    return f"nst apply of {os.path.realpath(source)}"


APPLY_ABOUT = {
    "description": "Run a saved HRNet generator on images. Each keeps its size (both sides divisible by 4) unless "
    "--size is given; results are written to OUTPUT_DIR/<name>.png."
}
# The arguments of nst apply: (names, argparse keywords).
APPLY_FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("model",), {"help": "a .npz written by nst photoreal --save-model (by either backend)"}),
    (("images",), {"nargs": "+", "metavar": "IMAGE", "help": "images to stylize"}),
    (("--output-dir",), {"required": True, "metavar": "D", "help": "folder for the results (made if missing)"}),
    (("--backend",), {"default": NAMES[0], "help": f"(default {NAMES[0]})"}),
    (("--size",), {"nargs": 2, "type": int, "metavar": ("H", "W"), "help": "resize every image to H x W first"}),
    (("--dtype",), {"choices": DTYPES, "help": "(default: the model's)"}),
    (("--quiet",), {"action": "store_true", "help": "no summary line"}),
)
