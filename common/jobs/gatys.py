"""The Gatys method: optimize the image's pixels, stage by stage (Gatys, run by the one job pipeline of job.py
after the one plan of plan.py), and its pieces: its sizes, its start image, its optimizer and its size checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from ..core import cpu, layers
from ..core.errors import UserError
from ..core.interface import Backend, Tensor
from ..core.lbfgs import LBFGSTrainer
from ..core.objective import LossWeights, Objective
from ..core.reference import IMAGENET_MEAN, IMAGENET_STD
from ..core.training import Trainer
from . import images
from .plan import Inputs, Plan
from .run import Say, tapped_layers
from .settings import Settings, Stage
from .values import MAX_SIDE


def noise_image(seed: int, size: tuple[int, int]) -> np.ndarray:
    """Uniform random uint8 pixels (H, W, 3), the same for every backend given a seed."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1])))
    return rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)


def stage_size(size: tuple[int, int], stage: Stage) -> tuple[int, int]:
    """A stage's (H, W): the final size times the stage's scale."""
    return max(1, round(size[0] * stage.scale)), max(1, round(size[1] * stage.scale))


def style_size(s: Settings, size: tuple[int, int], style: Image.Image) -> tuple[int, int]:
    """The style image's (H, W) for a result of ``size``: the same size (d2l), or scaled by --style-scale."""
    if s.style_scale is None:
        return size
    return images.fit_size(style, max(1, round(s.style_scale * max(size))))


def pixel_bounds(normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel bounds (1, 3, 1, 1) of valid pixels in the tensor's space: [0, 1], normalized if asked."""
    low, high = np.zeros(3), np.ones(3)
    if normalize:
        low, high = (low - IMAGENET_MEAN) / IMAGENET_STD, (high - IMAGENET_MEAN) / IMAGENET_STD
    return low.reshape(1, 3, 1, 1), high.reshape(1, 3, 1, 1)


def make_trainer(ops: Backend, s: Settings, stage: Stage, X: Tensor, objective: Objective, bounds: Any) -> Trainer:
    """The optimizer a stage runs: the backend's Adam or SGD (on the stage's pyramid levels), or the shared L-BFGS."""
    if s.optimizer == "lbfgs":
        return LBFGSTrainer(ops, X, objective, stage.lr, stage.lr_decay_every, stage.lr_decay_factor, bounds)
    return ops.trainer(
        ops.synthesized_image(X, levels=stage.levels),
        objective,
        stage.lr,
        stage.lr_decay_every,
        stage.lr_decay_factor,
        optimizer=s.optimizer,
        bounds=bounds,
    )


def check_stage_sizes(
    s: Settings, size: tuple[int, int], stages: tuple[Stage, ...], inputs: Inputs, deepest: layers.Layer, need: int
) -> None:
    """UserError when a stage, or a style image at a stage, would be too small for the deepest tapped layer."""
    for i, stage in enumerate(stages, 1):
        h, w = stage_size(size, stage)
        if min(h, w) < need:
            raise UserError(
                f"stage {i} would be {h}x{w} pixels; layer {deepest.name} needs at least {need} on each side: "
                f"{larger_size(s, inputs.content, size, need, stage.scale)}"
            )
        for path, img in zip(inputs.style_paths, inputs.styles, strict=True):
            sh, sw = style_size(s, (h, w), img)
            if max(sh, sw) > MAX_SIDE:
                raise UserError(
                    f"style image {path!r} would be {sh}x{sw} pixels at stage {i}; a side is at most {MAX_SIDE} "
                    "pixels: use a smaller --style-scale"
                )
            if min(sh, sw) < need:
                raise UserError(
                    f"style image {path!r} would be {sh}x{sw} pixels at stage {i}; layer {deepest.name} needs at "
                    f"least {need} on each side: use a larger --style-scale"
                )


def larger_size(s: Settings, content: Image.Image, size: tuple[int, int], need: int, scale: float) -> str:
    """What to give so that the shorter side of a stage at ``scale`` is at least ``need``, said for the flag that
    sized the run: --max-side (an extreme aspect ratio), --min-side, or --size (given, a preset's or the default)."""
    need = math.ceil(need / scale)
    w, h = content.size
    stages = " or a larger first --scales value" if scale < 1 else ""
    if s.max_side is not None:
        fit = math.ceil(need * max(w, h) / min(w, h))
        while min(images.fit_size(content, fit)) < need:
            fit += 1
        at = images.shorter_side_size(content, need)
        return (
            f"--max-side {s.max_side} makes the {h}x{w} content image (height x width) {size[0]}x{size[1]}; give "
            f"--min-side {need} instead ({at[0]}x{at[1]}, the same aspect ratio), --max-side {fit}{stages}"
        )
    if s.min_side is not None:
        return f"give --min-side {need}{stages}"
    return f"give a --size of at least {max(need, size[0])} {max(need, size[1])}{stages}"


class Gatys:
    """The Gatys method for the plan (plan.Method) and the job (job.py)."""

    name = "gatys"

    def check_sizes(self, s: Settings, inputs: Inputs, size: tuple[int, int], stages: tuple[Stage, ...]) -> None:
        """UserError when a stage, or a style image at a stage, would be too small for the deepest tapped layer."""
        _, deepest, need = tapped_layers(s)
        check_stage_sizes(s, size, stages, inputs, deepest, need)

    def memory_sizes(
        self, s: Settings, inputs: Inputs, size: tuple[int, int], stages: tuple[Stage, ...]
    ) -> list[tuple[int, int]]:
        """Every size VGG-19 runs at: each stage's, and each style image's at each stage (--style-scale)."""
        found = []
        for stage in stages:
            at = stage_size(size, stage)
            found += [at, *(style_size(s, at, img) for img in inputs.styles)]
        return found

    def warnings(self, s: Settings, inputs: Inputs, size: tuple[int, int]) -> list[str]:
        """None of its own."""
        return []

    def prepare(self, ops: Backend, plan: Plan, net: Any, names: tuple[str, ...], say: Say) -> Any:
        """The feature extractor, in the run's precision."""
        s = plan.settings
        if s.precision == "fp16" and ops.device == "cpu" and not cpu.fp16_units():
            better = "bf16" if cpu.bf16_units() else "fp32"
            say(
                "--precision fp16 is meant for GPUs: a CPU without fp16 matrix units runs it slower than fp32; "
                f"use {better}"
            )
        return ops.feature_extractor(net, names, s.precision)

    def optimize(self, run: Any, extractor: Any, stop_requested: Callable[[], bool]) -> None:
        """Every stage in turn, each from the previous stage's result, until one does not complete."""
        ops, s, ckpt, plan = run.ops, run.s, run.ckpt, run.plan
        inputs, stages = plan.inputs, plan.stages
        loss_weights = LossWeights(s.content_weight, s.style_weight, s.tv_weight, tuple(s.style_layer_weights))
        bounds = pixel_bounds(s.normalize) if s.clamp else None
        previous: Image.Image | None = None
        for index, stage in enumerate(stages):
            if ckpt is not None and index < ckpt.stage:
                continue
            at = stage_size(plan.size, stage)
            content_X = run.tensor(inputs.content, at)
            style_Xs = [run.tensor(img, style_size(s, at, img)) for img in inputs.styles]
            objective = Objective(
                ops, extractor, s.content_layers, s.style_layers, content_X, style_Xs, loss_weights, s.style_weights
            )
            init_X = self.start(run, previous, content_X, at)
            run.start_stage(index, make_trainer(ops, s, stage, init_X, objective, bounds))
            shown = f"stage {index + 1}/{len(stages)} {at[0]}x{at[1]}" if len(stages) > 1 else ""
            if not run.run_steps(stage.steps - run.steps_done, stop_requested, stage=index + 1, description=shown):
                return
            previous = run.picture(run.trainer.image())

    def start(self, run: Any, previous: Image.Image | None, content_X: Tensor, at: tuple[int, int]) -> Tensor:
        """A stage's start image: the previous stage's result, else --init's."""
        s, inputs = run.s, run.plan.inputs
        if previous is not None:
            return run.tensor(previous, at)
        if s.init == "content":
            return content_X
        if s.init == "noise":
            return run.ops.to_tensor(noise_image(s.seed, at), s.dtype, s.normalize)
        return run.tensor(inputs.styles[0] if s.init == "style" else inputs.init, at)

    def write_outputs(self, run: Any, work: Any) -> str:
        """None of its own."""
        return ""

    def describe(self, size: tuple[int, int]) -> str:
        """The run's size."""
        return f"{size[0]}x{size[1]}"


GATYS = Gatys()
