"""The photorealistic job: train the HRNet generator on one content and one style image (``nst photoreal``,
``nst stylize --preset photoreal-hrnet``); apply.py runs a saved generator on other images (``nst apply``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from ..core.errors import Diverged, Interrupted, UserError
from ..core.hrnet import check_size, random_generator
from ..core.interface import Backend, Tensor, load_backend
from ..core.objective import LossWeights
from ..core.photoreal_objective import PhotorealObjective
from ..core.training import Trainer, optimize
from ..core.weights import VGGWeights
from . import checkpoint, images, paths, samples
from .gatys import Run, derived_outputs, resume
from .models import save_model
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
from .settings import Settings, check_method, output_files
from .signals import stop_on_signals

# Above this many times the output's pixels, a style image's summed Gram matrices (--style-gram sum) are out of
# reach of in-range pixels: the README's measurements (4x drifts to black) and the warning's threshold.
STYLE_PIXELS_WARNING = 2.0


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
        sized_by = "--max-side" if s.max_side else "--min-side" if s.min_side else "--size"
        check_size(size, f"the content image's size ({sized_by})")
        _, deepest, need = tapped_layers(s)
        at_style = style_size(style_img, s.style_max_side)
        for what, (h, w) in ((f"content image ({sized_by})", size), (f"style image {style_path!r}", at_style)):
            if min(h, w) < need:
                raise UserError(
                    f"the {what} is {h}x{w} pixels; layer {deepest.name} needs at least {need} on each side"
                )
        fingerprints = {os.path.realpath(p): checkpoint.fingerprint(p) for p in (content_file, style_path)}
        return cls(content_img, style_img, size, at_style, fingerprints)

    def style_factor(self) -> float:
        """How many times the output's pixel count the style image has."""
        return self.style_at[0] * self.style_at[1] / (self.size[0] * self.size[1])


def generator_trainer(
    ops: Backend, s: Settings, generator: object, objective: PhotorealObjective, X: Tensor
) -> Trainer:
    """Adam on the generator's parameters, the learning rate x factor every N steps; the generator's input is X."""
    return ops.trainer(generator, objective, s.lr, s.lr_decay_every, s.lr_decay_factor, inputs=(X,))


def train(settings: Settings, ops: Backend | None = None, say: Say = warn, observer: Observer | None = None) -> Result:
    """Train a generator so that its output of the content image has the style image's Gram statistics (or
    continue the run --resume names); SIGINT and SIGTERM stop it after a step with every output written."""
    with stop_on_signals() as stop_requested:
        s, ckpt = resume(settings)
        return job(s, ops, say, stop_requested, ckpt, observer)


def job(
    s: Settings,
    ops: Backend | None,
    say: Say,
    stop_requested: Callable[[], bool],
    ckpt: checkpoint.Checkpoint | None,
    observer: Observer | None = None,
) -> Result:
    """The photoreal job for resolved settings: check, load, train (from the checkpoint if given), write."""
    check_method(s)
    check_outputs(s, output_files(s.method), derived_outputs(s, s.steps))
    check_input_files(s)
    inputs = Inputs.load(s)
    if ckpt is not None and ckpt.fingerprints != inputs.fingerprints:
        raise UserError("an input image changed since the checkpoint was written; the run cannot continue it")
    if not s.max_side and not s.min_side:  # after every refusal: a refused run says one line
        warn_if_squashed(inputs.content, inputs.size, "content image", say)
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
    s = paths.absolute_paths(s)  # what the checkpoint and the record keep: the same files from any folder
    run = Run(ops, s, inputs.content, inputs.fingerprints, s.steps, ckpt, observer)
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
