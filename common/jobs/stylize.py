"""The style-transfer job, from settings to files: the CLI's ``stylize`` and the Python API's ``stylize()``.

The Gatys method optimizes the image's pixels stage by stage (gatys.py holds its pieces); settings with the
photoreal method go to the generator job (photoreal.py).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable

from PIL import Image

from ..core import cpu
from ..core.errors import Diverged, Interrupted, UserError
from ..core.interface import Backend, load_backend
from ..core.objective import LossWeights, Objective
from ..core.training import optimize
from ..core.weights import VGGWeights
from . import checkpoint, images, paths, photoreal
from .gatys import (
    Inputs,
    Run,
    check_memory,
    check_stage_sizes,
    derived_outputs,
    make_trainer,
    noise_image,
    pixel_bounds,
    resume,
    stage_size,
    style_size,
)
from .run import (
    Observer,
    Result,
    Say,
    check_input_files,
    check_outputs,
    run_size,
    tapped_layers,
    vgg_weights,
    warn,
    warn_if_squashed,
    write_record,
)
from .settings import Settings, check_method, output_files
from .signals import stop_on_signals


def stylize(
    settings: Settings, ops: Backend | None = None, say: Say = warn, observer: Observer | None = None
) -> Result:
    """Run one job: check every input first, optimize stage by stage, then write the outputs atomically.

    SIGINT and SIGTERM are caught for the whole job: one that comes while weights load stops the run before
    its first step, one during a step stops it after that step, one while the outputs are written lets them
    finish; each ends with the image, the run record and a checkpoint written, and Interrupted (exit 130).
    ``observer``, if given, is called after every completed step (run.Observer).
    """
    with stop_on_signals() as stop_requested:
        s, ckpt = resume(settings)  # a checkpoint decides the method too
        if s.method == "hrnet":
            return photoreal.job(s, ops, say, stop_requested, ckpt, observer)
        return _gatys(s, ckpt, ops, say, stop_requested, observer)


def _gatys(
    s: Settings,
    ckpt: checkpoint.Checkpoint | None,
    ops: Backend | None,
    say: Say,
    stop_requested: Callable[[], bool],
    observer: Observer | None,
) -> Result:
    """The Gatys method: check, load, optimize every stage, write."""
    check_method(s)
    stages = s.run_stages()
    check_outputs(s, output_files(s.method), derived_outputs(s, sum(stage.steps for stage in stages)))
    check_input_files(s)
    inputs = Inputs.load(s)
    if ckpt is not None and ckpt.fingerprints != inputs.fingerprints:
        raise UserError("an input image changed since the checkpoint was written; the run cannot continue it")
    size = run_size(s, inputs.content)
    names, deepest, need = tapped_layers(s)
    check_stage_sizes(s, size, stages, inputs, deepest, need)
    check_memory(s, [stage_size(size, stage) for stage in stages], deepest)
    cpu.check_precision(s.precision, s.device)
    if s.max_side is None and s.min_side is None:  # after every refusal: a refused run says one line
        warn_if_squashed(inputs.content, size, "content image", say)
    ops = ops or load_backend(s.backend, s.device)
    if ckpt is not None and ckpt.backend != ops.name:
        raise UserError(f"the checkpoint was made by the {ckpt.backend} backend; resume it there")
    weights = vgg_weights(ops, s, deepest, say)
    net = ops.vgg19(weights, pooling=s.pooling, dtype=s.dtype, upto=deepest.name)
    if s.precision == "fp16" and ops.device == "cpu" and not cpu.fp16_units():
        better = "bf16" if cpu.bf16_units() else "fp32"
        say(
            "--precision fp16 is meant for GPUs: a CPU without fp16 matrix units runs it slower than fp32; "
            f"use {better}"
        )
    extractor = ops.feature_extractor(net, names, s.precision)
    s = paths.absolute_paths(s)  # what the checkpoint and the record keep: the same files from any folder
    run = Run(ops, s, inputs.content, inputs.fingerprints, sum(stage.steps for stage in stages), ckpt, observer)
    started = time.time()
    _optimize(run, inputs, extractor, size, stop_requested)
    return _finish(run, weights, started, size, stop_requested)


def _optimize(run: Run, inputs: Inputs, extractor, size: tuple[int, int], stop_requested: Callable[[], bool]) -> None:
    """Every stage in turn, each from the previous stage's result, until one does not complete."""
    ops, s, ckpt, stages = run.ops, run.s, run.ckpt, run.s.run_stages()
    loss_weights = LossWeights(s.content_weight, s.style_weight, s.tv_weight, tuple(s.style_layer_weights))
    bounds = pixel_bounds(s.normalize) if s.clamp else None
    previous: Image.Image | None = None
    for index, stage in enumerate(stages):
        if ckpt is not None and index < ckpt.stage:
            continue
        at = stage_size(size, stage)
        content_X = run.tensor(inputs.content, at)
        style_Xs = [run.tensor(img, style_size(s, at, img)) for img in inputs.styles]
        objective = Objective(
            ops, extractor, s.content_layers, s.style_layers, content_X, style_Xs, loss_weights, s.style_weights
        )
        if previous is not None:
            init_X = run.tensor(previous, at)
        elif s.init == "content":
            init_X = content_X
        elif s.init == "noise":
            init_X = ops.to_tensor(noise_image(s.seed, at), s.dtype, s.normalize)
        else:
            init_X = run.tensor(inputs.styles[0] if s.init == "style" else inputs.init, at)
        run.start_stage(index, make_trainer(ops, s, stage, init_X, objective, bounds))
        outcome = optimize(
            run.trainer,
            stage.steps - run.steps_done,
            first_step=len(run.history) + 1,
            stage=index + 1,
            progress=not s.quiet,
            on_step=run.on_step,
            stop_requested=stop_requested,
            description=f"stage {index + 1}/{len(stages)} {at[0]}x{at[1]}" if len(stages) > 1 else "",
        )
        if outcome.status == "diverged":
            run.history.append(outcome.history[-1])  # on_step is not called for the step that diverged
        run.status = outcome.status
        if run.status != "completed":
            return
        previous = run.picture(run.trainer.image())


def _finish(
    run: Run, weights: VGGWeights, started: float, size: tuple[int, int], stop_requested: Callable[[], bool]
) -> Result:
    """Write the image, the checkpoint, the animation and the record; say how the run ended."""
    s, status, history = run.s, run.status, run.history
    checkpoint_path = s.checkpoint or checkpoint.default_path(s.output)
    final_X = run.trainer.last_finite_image() if status == "diverged" else run.trainer.image()
    result_img = run.picture(final_X)
    images.save_image(result_img, s.output)
    if status == "interrupted" or (s.checkpoint and status == "completed"):
        run.save_checkpoint(checkpoint_path)
    if s.gif:
        ends_on_a_frame = status == "completed" and history and run.last_frame_step == history[-1].step
        images.save_gif(run.frames if ends_on_a_frame else [*run.frames, result_img], s.gif)
    run_record = write_record(s, run.ops, weights, status, started, history, f"{size[0]}x{size[1]}")
    if status == "diverged":
        raise Diverged(
            f"the loss became non-finite at step {history[-1].step}; kept the last finite image in "
            f"{s.output}; lower --lr (now {s.run_stages()[run.stage].lr})"
        )
    if status == "interrupted":
        when = f"after step {history[-1].step}" if history else "before the first step"
        raise Interrupted(
            f"interrupted {when}; wrote {s.output}; continue with: nst stylize --resume {shlex.quote(checkpoint_path)}"
        )
    if stop_requested():
        raise Interrupted(f"interrupted while the outputs were written; they are complete: {s.output}")
    return Result(result_img, history, status, weights.description, s, run_record)
