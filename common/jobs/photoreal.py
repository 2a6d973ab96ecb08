"""The photorealistic jobs: train the HRNet generator on one content and one style image (``nst photoreal``,
``nst stylize --preset photoreal-hrnet``), and stylize other images with a saved generator (``nst apply``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..core.errors import Diverged, Interrupted, UserError
from ..core.hrnet import check_size, random_generator
from ..core.interface import Backend, Tensor, load_backend
from ..core.objective import LossWeights
from ..core.photoreal_objective import PhotorealObjective
from ..core.registry import check_name
from ..core.training import Trainer, optimize
from ..core.weights import VGGWeights
from . import checkpoint, images, samples
from .gatys import Run, resume
from .models import load_model, save_model
from .outputs import IMAGE_EXTENSIONS, check_writable
from .run import Result, Say, check_outputs, content_path, run_size, tapped_layers, vgg_weights, warn, write_record
from .settings import Settings
from .signals import stop_on_signals

OUTPUTS = (
    ("log", (".json",), "run record (--log)"),
    ("plot", (".png",), "loss plot (--plot)"),
    ("checkpoint", (".npz",), "checkpoint (--checkpoint)"),
    ("save_model", (".npz",), "model (--save-model)"),
)

# Settings of the Gatys method that have no meaning for a generator, and the value that means "not used".
UNSUPPORTED = {
    "optimizer": "adam",
    "init": "content",
    "clamp": False,
    "precision": "fp32",
    "gif": None,
    "style_scale": None,
    "style_weights": (),
    "stages": (),
    "scales": (1.0,),
}
# Above this many times the output's pixels, a style image's summed Gram matrices (--style-gram sum) are out of
# reach of in-range pixels: the README's measurements (4x drifts to black) and the warning's threshold.
STYLE_PIXELS_WARNING = 2.0


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


@dataclass
class Inputs:
    """The content and style images of a run, their sizes for it, and the fingerprints a checkpoint keeps."""

    content: Image.Image
    style: Image.Image
    size: tuple[int, int]  # the output's (H, W)
    style_at: tuple[int, int]
    fingerprints: dict[str, str]

    @classmethod
    def load(cls, s: Settings) -> Inputs:
        """Load and check both images and their sizes; UserError in one line for a bad one."""
        content_file = content_path(s)
        style_path = s.style[0] if s.style else str(samples.sample_path(samples.STYLE))
        content_img = images.load_image(content_file, "content image")
        style_img = images.load_image(style_path, "style image")
        images.check_size(content_img, f"content image {content_file!r}")
        size = run_size(s, content_img)
        check_size(size, "the content image's size (--size)")
        _, deepest, need = tapped_layers(s)
        at_style = style_size(style_img, s.style_max_side)
        for what, (h, w) in (("content image (--size)", size), (f"style image {style_path!r}", at_style)):
            if min(h, w) < need:
                raise UserError(f"the {what} is {h}x{w} pixels; layer {deepest.name} needs at least {need} a side")
        fingerprints = {path: checkpoint.fingerprint(path) for path in (content_file, style_path)}
        return cls(content_img, style_img, size, at_style, fingerprints)

    def style_factor(self) -> float:
        """How many times the output's pixel count the style image has."""
        return self.style_at[0] * self.style_at[1] / (self.size[0] * self.size[1])


def generator_trainer(
    ops: Backend, s: Settings, generator: object, objective: PhotorealObjective, X: Tensor
) -> Trainer:
    """Adam on the generator's parameters, the learning rate x factor every N steps; the generator's input is X."""
    return ops.trainer(generator, objective, s.lr, s.lr_decay_every, s.lr_decay_factor, inputs=(X,))


def train(settings: Settings, ops: Backend | None = None, say: Say = warn) -> Result:
    """Train a generator so that its output of the content image has the style image's Gram statistics (or
    continue the run --resume names); SIGINT and SIGTERM stop it after a step with every output written."""
    with stop_on_signals() as stop_requested:
        s, ckpt = resume(settings.validated())
        return job(s, ops, say, stop_requested, ckpt)


def job(
    s: Settings, ops: Backend | None, say: Say, stop_requested: Callable[[], bool], ckpt: checkpoint.Checkpoint | None
) -> Result:
    """The photoreal job for resolved settings: check, load, train (from the checkpoint if given), write."""
    check_supported(s)
    check_outputs(s, OUTPUTS)
    inputs = Inputs.load(s)
    if ckpt is not None and ckpt.fingerprints != inputs.fingerprints:
        raise UserError("an input image changed since the checkpoint was written; the run cannot continue it")
    factor = inputs.style_factor()
    if s.style_gram == "sum" and factor > STYLE_PIXELS_WARNING:
        (sh, sw), (h, w) = inputs.style_at, inputs.size
        say(
            f"the style image ({sh}x{sw}) has {factor:.1f}x the output's pixels ({h}x{w}): with --style-gram sum "
            "its Gram targets are out of reach and the output may drift to black or white; use --style-gram "
            "per-pixel or --style-max-side"
        )
    ops = ops or load_backend(s.backend, s.device)
    if ckpt is not None and ckpt.backend != ops.name:
        raise UserError(f"the checkpoint was made by the {ckpt.backend} backend; resume it there")
    names, deepest, _ = tapped_layers(s)
    weights = vgg_weights(ops, s, deepest, say)
    net = ops.vgg19(weights, pooling=s.pooling, dtype=s.dtype, upto=deepest.name)
    content_X = ops.preprocess(inputs.content, inputs.size, s.dtype, s.normalize)
    style_X = ops.preprocess(inputs.style, inputs.style_at, s.dtype, s.normalize)
    loss_weights = LossWeights(s.content_weight, s.style_weight, s.tv_weight, tuple(s.style_layer_weights))
    extractor = ops.feature_extractor(net, names)
    objective = PhotorealObjective(
        ops, extractor, s.content_layers, s.style_layers, content_X, style_X, loss_weights, s.style_gram
    )
    generator = ops.generator(random_generator(s.seed), s.dtype)
    run = Run(ops, s, inputs.content, inputs.fingerprints, s.steps, ckpt)
    run.start_stage(0, generator_trainer(ops, s, generator, objective, content_X))
    started = time.time()
    outcome = optimize(
        run.trainer,
        s.steps - run.steps_done,
        first_step=len(run.history) + 1,
        progress=not s.quiet,
        on_step=run.on_step,
        stop_requested=stop_requested,
    )
    if outcome.status == "diverged":
        run.history.append(outcome.history[-1])  # on_step is not called for the step that diverged
    run.status = outcome.status
    return _finish(run, weights, generator, inputs.size, started, stop_requested)


def _finish(
    run: Run,
    weights: VGGWeights,
    generator: object,
    size: tuple[int, int],
    started: float,
    stop_requested: Callable[[], bool],
) -> Result:
    """Write the image, the checkpoint, the model and the record; say how the run ended."""
    s, status, history, ops = run.s, run.status, run.history, run.ops
    final_X = run.trainer.last_finite_image() if status == "diverged" else None
    result_img = run.picture(run.trainer.image() if final_X is None else final_X)
    images.save_image(result_img, s.output)
    checkpoint_path = s.checkpoint or checkpoint.default_path(s.output)
    if status == "interrupted" or (s.checkpoint and status == "completed"):
        run.save_checkpoint(checkpoint_path)
    wrote = s.output
    if s.save_model and status != "diverged":
        meta = {
            "trained_by": ops.name,
            "dtype": s.dtype,
            "normalize": s.normalize,
            "size": list(size),
            "steps": len(history),
            "status": status,
            "seed": s.seed,
        }
        save_model(s.save_model, ops.generator_arrays(generator), meta)
        wrote += f" and the model {s.save_model}"
    what = f"HRNet generator, {size[0]}x{size[1]}"
    run_record = write_record(s, ops, weights, status, started, history, what)
    if status == "diverged":
        raise Diverged(
            f"the loss became non-finite at step {history[-1].step}; kept the last finite image in {s.output}; "
            f"lower --lr (now {s.lr}); no model was saved"
        )
    if status == "interrupted":
        when = f"after step {history[-1].step}" if history else "before the first step"
        raise Interrupted(f"interrupted {when}; wrote {wrote}; continue with: nst stylize --resume {checkpoint_path}")
    if stop_requested():
        raise Interrupted(f"interrupted while the outputs were written; they are complete: {wrote}")
    return Result(result_img, history, status, weights.description, s, run_record)


def output_paths(inputs: Sequence[str], output_dir: str) -> list[str]:
    """D/<stem>.png for each input; UserError if the folder is missing or two inputs share a name."""
    folder = Path(output_dir)
    if not folder.is_dir():
        raise UserError(f"--output-dir {output_dir!r} is not an existing folder; create it first")
    paths = [str(folder / f"{Path(p).stem}.png") for p in inputs]
    seen: dict[str, str] = {}
    for path, source in zip(paths, inputs, strict=True):
        if path in seen:
            raise UserError(f"{seen[path]!r} and {source!r} would both be written to {path!r}; rename one")
        if Path(path).resolve() == Path(source).resolve():
            raise UserError(f"{path!r} would overwrite its own input; choose another --output-dir")
        seen[path] = source
        check_writable(path, IMAGE_EXTENSIONS)
    return paths


def apply(
    model: str | os.PathLike,
    inputs: Sequence[str],
    output_dir: str,
    backend: str = "torch",
    size: tuple[int, int] | None = None,
    dtype: str | None = None,
    ops: Backend | None = None,
) -> list[str]:
    """Stylize images with a saved generator (from either backend), without training; return the files written.

    Each image keeps its own size (both sides must be divisible by 4), or is resized to ``size``. Every input
    is read and checked before anything is computed, and every result computed before any file is written.
    """
    try:
        check_name(backend)
    except ValueError as e:
        raise UserError(str(e)) from e
    arrays, meta = load_model(model)
    if not inputs:
        raise UserError("give at least one image to stylize")
    paths = output_paths(inputs, output_dir)
    if size is not None:
        check_size(size, "--size")
    loaded = []
    for path in inputs:
        img = images.load_image(path, "image")
        at = size or (img.size[1], img.size[0])
        check_size(at, f"image {path!r}")
        loaded.append((img, at))
    ops = ops or load_backend(backend)
    dtype = dtype or meta.get("dtype", "float32")
    normalize = bool(meta.get("normalize", True))
    generator = ops.generator(arrays, dtype)
    results = [ops.postprocess(generator(ops.preprocess(img, at, dtype, normalize)), normalize) for img, at in loaded]
    for img, path in zip(results, paths, strict=True):
        images.save_image(img, path)
    return paths
