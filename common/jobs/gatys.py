"""The pieces of the Gatys job (stylize.py): its inputs, its sizes, its optimizer, its checks and the state of a
run between steps (history, trainer, checkpoints, frames). The photoreal job (photoreal.py) shares the last: Run,
resume and resumed_settings."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..core import layers
from ..core.errors import UserError
from ..core.interface import Backend, Tensor
from ..core.lbfgs import LBFGSTrainer
from ..core.objective import Objective
from ..core.reference import IMAGENET_MEAN, IMAGENET_STD
from ..core.training import StepRecord, Trainer
from . import checkpoint, images, memory, outputs, paths, presets
from .run import Observer, content_path, style_paths
from .settings import SPECS, Role, Settings, Stage, named


def noise_image(seed: int, size: tuple[int, int]) -> np.ndarray:
    """Uniform random uint8 pixels (H, W, 3), the same for every backend given a seed."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1])))
    return rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)


def intermediate_path(output: str, step: int) -> str:
    """out.png -> out_step0050.png."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}_step{step:04d}{p.suffix}"))


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
    """The optimizer a stage runs: the backend's Adam or SGD, or the shared L-BFGS."""
    if s.optimizer == "lbfgs":
        return LBFGSTrainer(ops, X, objective, stage.lr, stage.lr_decay_every, stage.lr_decay_factor, bounds)
    return ops.trainer(
        ops.synthesized_image(X),
        objective,
        stage.lr,
        stage.lr_decay_every,
        stage.lr_decay_factor,
        optimizer=s.optimizer,
        bounds=bounds,
    )


def check_memory(s: Settings, sizes: list[tuple[int, int]], deepest: layers.Layer) -> None:
    """Refuse, before anything is allocated, a run whose estimated peak exceeds the memory available."""
    if s.device != "cpu":
        return  # the estimates are for CPU runs
    have = memory.available()
    largest = max(sizes, key=lambda hw: hw[0] * hw[1])
    need = memory.estimate(s.backend, largest, s.dtype, s.precision, deepest)
    if need is None or have is None or need <= have:
        return
    base, factor = memory.FITTED[(s.backend, s.dtype, s.precision)]
    h, w = memory.largest_size(have, base, factor, s.dtype, aspect=largest[0] / largest[1])
    hint = f"--max-side {max(h, w)} would fit" if min(h, w) >= 16 else "no image size fits"
    raise UserError(
        f"a {largest[0]}x{largest[1]} run needs about {need / 2**30:.1f} GiB (estimated), and {have / 2**30:.1f} "
        f"GiB are available: {hint}"
    )


def resumed_settings(s: Settings, ckpt: checkpoint.Checkpoint) -> Settings:
    """The checkpoint's settings, with the output settings given now (those not given: the checkpoint's, which
    are absolute paths, so the run finishes the files it promised); UserError if anything else differs.

    A setting differs when it is neither the checkpoint's value (an input named by another spelling of the same
    file is no difference) nor what the command gives unasked (the defaults, with the command's preset: nst
    photoreal's is photoreal-hrnet).
    """
    saved = Settings.from_dict(ckpt.settings)
    now, unasked = s.validated(), presets.settings({}, s.preset)
    for name in named(Role.RECIPE) + named(Role.INPUT):
        value, then = getattr(now, name), getattr(saved, name)
        if not paths.same_inputs(name, value, then) and value != getattr(unasked, name):
            if name == "method":
                raise UserError(f"the checkpoint holds a run of the {then} method; resume it without choosing one")
            flag = SPECS[name].label
            raise UserError(f"{flag} cannot change when resuming: the checkpoint was made with {flag} {then}")
    given = {name: getattr(s, name) for name in named(Role.OUTPUT) if getattr(s, name) is not None}
    given.update({name: getattr(s, name) for name in named(Role.NOW)})  # about this process: never the checkpoint's
    return saved.replace(**given)


def frame_paths(s: Settings, total_steps: int) -> list[str]:
    """The --save-every images the run writes (every N steps, but not the last: that one is --output)."""
    if not s.save_every:
        return []
    return [intermediate_path(s.output, step) for step in range(s.save_every, total_steps, s.save_every)]


def derived_outputs(s: Settings, total_steps: int) -> list[tuple[str, str]]:
    """The files a run writes beside the ones named by flags: (what, path) of the --save-every images and, with no
    --checkpoint, the checkpoint an interruption writes; UserError if the longest frame name cannot be made."""
    frames = frame_paths(s, total_steps)
    if frames:  # the last frame has the longest name
        outputs.check_name_fits(frames[-1], "--save-every image")
    derived = [("--save-every", path) for path in frames]
    if not s.checkpoint:
        derived.append(("the checkpoint an interruption writes", checkpoint.default_path(s.output)))
    return derived


def resume(settings: Settings) -> tuple[Settings, checkpoint.Checkpoint | None]:
    """The validated settings a run goes on with and the checkpoint it continues (--resume; its settings decide
    the method too), or the settings validated and None."""
    if not settings.resume:
        return settings.validated(), None
    ckpt = checkpoint.load(settings.resume)
    return resumed_settings(settings, ckpt).validated(), ckpt


class Run:
    """The state of a run between steps: its history, the current stage's trainer, what it has written."""

    def __init__(
        self,
        ops: Backend,
        s: Settings,
        content: Image.Image,
        fingerprints: dict[str, str],
        total_steps: int,
        ckpt: checkpoint.Checkpoint | None,
        observer: Observer | None = None,
    ) -> None:
        self.ops, self.s, self.content, self.fingerprints, self.total_steps = ops, s, content, fingerprints, total_steps
        self.ckpt, self.observer = ckpt, observer
        self.history: list[StepRecord] = [StepRecord(**h) for h in ckpt.history] if ckpt else []
        self.frames: list[Image.Image] = []
        self.gif_every = s.save_every or max(1, total_steps // 50)
        self.status, self.stage, self.steps_done, self.last_frame_step = "completed", 0, 0, 0
        self.trainer: Trainer | None = None

    def tensor(self, img: Image.Image, at: tuple[int, int]) -> Tensor:
        """An image as the network's input at size ``at``."""
        return self.ops.preprocess(img, at, self.s.dtype, self.s.normalize)

    def picture(self, X: Tensor) -> Image.Image:
        """A tensor as the picture the user gets (with the content's colours if asked)."""
        img = self.ops.postprocess(X, self.s.normalize)
        return images.preserve_colors(img, self.content) if self.s.preserve_colors else img

    def start_stage(self, index: int, trainer: Trainer) -> None:
        """Begin stage ``index`` with a trainer, continuing the checkpoint where it stopped in this stage."""
        self.stage, self.trainer, self.steps_done = index, trainer, 0
        if self.ckpt is not None and index == self.ckpt.stage:
            trainer.load_state(self.ckpt.trainer)
            self.steps_done = self.ckpt.stage_steps_done

    def on_step(self, rec: StepRecord) -> None:
        """After every completed step: record it, write what is due."""
        s = self.s
        self.steps_done += 1
        self.history.append(rec)
        if s.save_every and rec.step % s.save_every == 0 and rec.step < self.total_steps:
            images.save_image(self.picture(self.trainer.image()), intermediate_path(s.output, rec.step))
        if s.gif and (rec.step % self.gif_every == 0 or rec.step == 1):
            self.frames.append(self.picture(self.trainer.image()))
            self.last_frame_step = rec.step
        if s.checkpoint and rec.step % s.checkpoint_every == 0:
            self.save_checkpoint(s.checkpoint)
        if self.observer is not None:
            self.observer(rec, lambda: self.picture(self.trainer.image()))

    def save_checkpoint(self, path: str) -> None:
        """Write where the run stands."""
        state = checkpoint.Checkpoint(
            self.s.as_dict(),
            self.stage,
            self.steps_done,
            [r.as_dict() for r in self.history],
            self.trainer.state(),
            self.fingerprints,
            self.ops.name,
        )
        checkpoint.save(path, state)


@dataclass
class Inputs:
    """The images a run reads, loaded and checked, and the fingerprints a checkpoint keeps of their files."""

    content_path: str
    style_paths: list[str]
    content: Image.Image
    styles: list[Image.Image]
    init: Image.Image | None
    fingerprints: dict[str, str]

    @classmethod
    def load(cls, s: Settings) -> Inputs:
        """Load --content, every --style and an --init image path; UserError in one line for a bad one."""
        content_file, style_files = content_path(s), style_paths(s)
        content = images.load_image(content_file, "content image")
        images.check_size(content, f"content image {content_file!r}")
        styles = []
        for path in style_files:
            styles.append(images.load_image(path, "style image"))
            images.check_size(styles[-1], f"style image {path!r}")
        init = None
        if s.init not in ("content", "noise", "style"):
            init = images.load_image(s.init, "--init image")
        files = [content_file, *style_files] + ([s.init] if init is not None else [])
        fingerprints = {os.path.realpath(path): checkpoint.fingerprint(path) for path in files}
        return cls(content_file, style_files, content, styles, init, fingerprints)


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
