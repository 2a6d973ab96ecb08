"""The photorealistic jobs: train the HRNet generator on one content and one style image (``nst photoreal``,
``nst stylize --preset photoreal-hrnet``), and stylize other images with a saved generator (``nst apply``)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from ..core.errors import Diverged, Interrupted, UserError
from ..core.hrnet import check_size, random_generator
from ..core.interface import Backend, load_backend
from ..core.objective import LossWeights
from ..core.photoreal_objective import PhotorealObjective
from ..core.registry import NAMES, check_name
from ..core.training import Outcome, optimize
from ..core.weights import VGGWeights
from . import images, outputs, paths, samples
from .models import load_model, save_model
from .outputs import IMAGE_EXTENSIONS, check_writable
from .run import (
    Observer,
    Result,
    Say,
    check_input_files,
    check_outputs,
    content_path,
    run_size,
    tapped_layers,
    vgg_weights,
    warn,
    warn_if_squashed,
    write_record,
)
from .settings import DTYPES, Settings
from .signals import stop_on_signals

OUTPUTS = (
    ("log", (".json",), "run record (--log)"),
    ("plot", (".png",), "loss plot (--plot)"),
    ("save_model", (".npz",), "model (--save-model)"),
)

# Settings of the Gatys method that have no meaning for a generator, and the value that means "not used".
UNSUPPORTED = {
    "optimizer": "adam",
    "init": "content",
    "clamp": False,
    "precision": "fp32",
    "save_every": 0,
    "gif": None,
    "checkpoint": None,
    "resume": None,
    "style_scale": None,
    "style_weights": (),
    "stages": (),
    "scales": (1.0,),
}


def check_supported(s: Settings) -> None:
    """UserError naming the first setting the photoreal method does not support."""
    for name, unused in UNSUPPORTED.items():
        if getattr(s, name) != unused:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag} is not supported by the photoreal (HRNet generator) method")
    if len(s.style) > 1:
        raise UserError("the photoreal method takes one style image")


def style_size(style: Image.Image, max_side: int | None) -> tuple[int, int]:
    """The style image's own (H, W), scaled down so that its longer side is at most max_side."""
    w, h = style.size
    if max_side is None or max(w, h) <= max_side:
        return h, w
    return images.fit_size(style, max_side)


def train(settings: Settings, ops: Backend | None = None, say: Say = warn, observer: Observer | None = None) -> Result:
    """Train a generator so that its output of the content image has the style image's Gram statistics."""
    s = settings.validated()
    check_supported(s)
    check_outputs(s, OUTPUTS)
    check_input_files(s)
    content_file = content_path(s)
    style_path = s.style[0] if s.style else str(samples.sample_path(samples.STYLE))
    content_img = images.load_image(content_file, "content image")
    style_img = images.load_image(style_path, "style image")
    images.check_size(content_img, f"content image {content_file!r}")
    size = run_size(s, content_img)
    sized_by = "--max-side" if s.max_side else "--min-side" if s.min_side else "--size"
    check_size(size, f"the content image's size ({sized_by})")
    names, deepest, need = tapped_layers(s)
    at_style = style_size(style_img, s.style_max_side)
    for what, (h, w) in ((f"content image ({sized_by})", size), (f"style image {style_path!r}", at_style)):
        if min(h, w) < need:
            raise UserError(f"the {what} is {h}x{w} pixels; layer {deepest.name} needs at least {need} on each side")
    if sized_by == "--size":  # after every refusal: a refused run says one line
        warn_if_squashed(content_img, size, "content image", say)

    ops = ops or load_backend(s.backend, s.device)
    weights = vgg_weights(ops, s, deepest, say)
    net = ops.vgg19(weights, pooling=s.pooling, dtype=s.dtype, upto=deepest.name)
    content_X = ops.preprocess(content_img, size, s.dtype, s.normalize)
    style_X = ops.preprocess(style_img, at_style, s.dtype, s.normalize)
    loss_weights = LossWeights(s.content_weight, s.style_weight, s.tv_weight, tuple(s.style_layer_weights))
    extractor = ops.feature_extractor(net, names)
    objective = PhotorealObjective(ops, extractor, s.content_layers, s.style_layers, content_X, style_X, loss_weights)
    generator = ops.generator(random_generator(s.seed), s.dtype)
    trainer = ops.trainer(generator, objective, s.lr, s.lr_decay_every, s.lr_decay_factor, inputs=(content_X,))

    def picture(X: object) -> Image.Image:
        img = ops.postprocess(X, s.normalize)
        return images.preserve_colors(img, content_img) if s.preserve_colors else img

    on_step = None if observer is None else (lambda rec: observer(rec, lambda: picture(trainer.image())))
    started = time.time()
    with stop_on_signals() as stop_requested:
        outcome = optimize(trainer, s.steps, progress=not s.quiet, on_step=on_step, stop_requested=stop_requested)
    result_img = picture(trainer.last_finite_image() if outcome.status == "diverged" else trainer.image())
    return _finish(s, ops, weights, outcome, result_img, generator, size, started)


def _finish(
    s: Settings,
    ops: Backend,
    weights: VGGWeights,
    outcome: Outcome,
    result_img: Image.Image,
    generator: object,
    size: tuple[int, int],
    started: float,
) -> Result:
    """Write the image, the model and the record; say how the run ended."""
    history = outcome.history
    images.save_image(result_img, s.output)
    if s.save_model and outcome.status == "completed":
        meta = {
            "trained_by": ops.name,
            "dtype": s.dtype,
            "normalize": s.normalize,
            "size": list(size),
            "steps": len(history),
            "seed": s.seed,
        }
        save_model(s.save_model, ops.generator_arrays(generator), meta)
    what = f"HRNet generator, {size[0]}x{size[1]}"
    run_record = write_record(s, ops, weights, outcome.status, started, history, what)
    if outcome.status == "diverged":
        raise Diverged(
            f"the loss became non-finite at step {history[-1].step}; kept the last finite image in {s.output}; "
            f"lower --lr (now {s.lr}); no model was saved"
        )
    if outcome.status == "interrupted":
        raise Interrupted(f"interrupted after step {history[-1].step}; wrote {s.output}; no model was saved")
    return Result(result_img, history, outcome.status, weights.description, s, run_record)


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
    for img, path in zip(results, written, strict=True):
        images.save_image(img, path)
    return written


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
