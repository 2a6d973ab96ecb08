"""The one job pipeline both methods go through (the Gatys pixels, gatys.py; the HRNet generator, photoreal.py):
load the backend and VGG-19, let the method optimize, keep the history, checkpoints, frames and the observer step by
step (Run), then write the image, the checkpoint, the animation, the method's own outputs and the run record, and
say how the run ended. Every refusal was made before, by the plan (plan.py), before any framework loaded."""

from __future__ import annotations

import io
import shlex
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from ..core.errors import Diverged, Interrupted, UserError
from ..core.interface import Backend, Tensor, load_backend
from ..core.training import StepRecord, Trainer
from ..core.weights import VGGWeights
from . import checkpoint, images, paths
from .plan import Plan
from .run import Observer, Result, Say, frame_mark, intermediate_path, tapped_layers, vgg_weights, write_record


class Run:
    """The state of a run between steps: its history, the current stage's trainer, what it has written, and the
    frames of its animation (kept in its checkpoints, so a resumed run's animation has them all)."""

    def __init__(self, ops: Backend, plan: Plan, observer: Observer | None = None) -> None:
        self.ops, self.plan, self.s, self.ckpt, self.observer = ops, plan, plan.settings, plan.ckpt, observer
        self.content, self.fingerprints, self.total_steps = plan.inputs.content, plan.inputs.fingerprints, plan.total
        ckpt = self.ckpt
        self.history: list[StepRecord] = [StepRecord(**h) for h in ckpt.history] if ckpt else []
        self.frames: list[Image.Image] = [Image.open(io.BytesIO(f.tobytes())) for f in ckpt.frames] if ckpt else []
        self.last_frame_step = ckpt.last_frame_step if ckpt else 0
        self.gif_every = self.s.save_every or max(1, self.total_steps // 50)
        self.status, self.stage, self.steps_done = "completed", 0, 0
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
            frame = intermediate_path(s.output, rec.step)
            images.save_image(self.picture(self.trainer.image()), frame, mark=frame_mark(s.output))
        if s.gif and (rec.step % self.gif_every == 0 or rec.step == 1):
            self.frames.append(self.picture(self.trainer.image()))
            self.last_frame_step = rec.step
        if s.checkpoint and rec.step % s.checkpoint_every == 0:
            self.save_checkpoint(s.checkpoint)
        if self.observer is not None:
            self.observer(rec, lambda: self.picture(self.trainer.image()))

    def save_checkpoint(self, path: str) -> None:
        """Write where the run stands."""
        frames = []
        for frame in self.frames:
            buffer = io.BytesIO()
            frame.save(buffer, format="PNG")
            frames.append(np.frombuffer(buffer.getvalue(), dtype=np.uint8))
        state = checkpoint.Checkpoint(
            self.s.as_dict(),
            self.stage,
            self.steps_done,
            [r.as_dict() for r in self.history],
            self.trainer.state(),
            self.fingerprints,
            self.ops.name,
            frames,
            self.last_frame_step,
        )
        checkpoint.save(path, state)

    def run_steps(self, steps: int, stop_requested: Callable[[], bool], **shown: object) -> bool:
        """Optimize the current stage for ``steps`` more steps; whether it completed (else: its status says why)."""
        from ..core.training import optimize

        outcome = optimize(
            self.trainer,
            steps,
            first_step=len(self.history) + 1,
            progress=not self.s.quiet,
            on_step=self.on_step,
            stop_requested=stop_requested,
            **shown,
        )
        if outcome.status == "diverged":
            self.history.append(outcome.history[-1])  # on_step is not called for the step that diverged
        self.status = outcome.status
        return self.status == "completed"


def run(
    plan: Plan, ops: Backend | None, say: Say, stop_requested: Callable[[], bool], observer: Observer | None
) -> Result:
    """Load the backend and VGG-19, let the method optimize, write everything: the job for a plan."""
    s, ckpt, method = plan.settings, plan.ckpt, plan.method
    names, deepest, _ = tapped_layers(s)
    plan.settings = paths.absolute_paths(s)  # what the checkpoint and the record keep: the same files from anywhere
    ops = ops or load_backend(s.backend, s.device)
    if ckpt is not None and ckpt.backend != ops.name:
        raise UserError(f"the checkpoint was made by the {ckpt.backend} backend; resume it there")
    weights = vgg_weights(ops, s, deepest, say)
    net = ops.vgg19(weights, pooling=s.pooling, dtype=s.dtype, upto=deepest.name)
    work = method.prepare(ops, plan, net, names, say)
    state = Run(ops, plan, observer)
    started = time.time()
    method.optimize(state, work, stop_requested)
    return finish(state, weights, started, work, stop_requested)


def finish(state: Run, weights: VGGWeights, started: float, work: object, stop_requested: Callable[[], bool]) -> Result:
    """Write the image, the checkpoint, the animation, the method's own outputs and the record; say how it ended."""
    s, status, history, method = state.s, state.status, state.history, state.plan.method
    final_X = state.trainer.last_finite_image() if status == "diverged" else state.trainer.image()
    result_img = state.picture(final_X)
    images.save_image(result_img, s.output)
    checkpoint_path = s.checkpoint or checkpoint.default_path(s.output)
    if status == "interrupted" or (s.checkpoint and status == "completed"):
        state.save_checkpoint(checkpoint_path)
    if s.gif:
        ends_on_a_frame = status == "completed" and history and state.last_frame_step == history[-1].step
        images.save_gif(state.frames if ends_on_a_frame else [*state.frames, result_img], s.gif)
    wrote = s.output + method.write_outputs(state, work)
    size = state.plan.size
    run_record = write_record(s, state.ops, weights, status, started, history, method.describe(size))
    if status == "diverged":
        lost = "; no model was saved" if s.save_model else ""
        raise Diverged(
            f"the loss became non-finite at step {history[-1].step}; kept the last finite image in {s.output}; "
            f"lower --lr (now {s.run_stages()[state.stage].lr}){lost}"
        )
    if status == "interrupted":
        when = f"after step {history[-1].step}" if history else "before the first step"
        raise Interrupted(
            f"interrupted {when}; wrote {wrote}; continue with: nst stylize --resume {shlex.quote(checkpoint_path)}"
        )
    if stop_requested():
        raise Interrupted(f"interrupted while the outputs were written; they are complete: {wrote}")
    return Result(result_img, history, status, weights.description, s, run_record)
