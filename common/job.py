"""One style-transfer job from settings to files: the CLI's ``stylize`` and the Python API's ``stylize()``."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import checkpoint, cpu, images, layers, memory, record, samples
from .errors import Diverged, Interrupted, UserError
from .interface import Backend, Tensor, Trainer
from .lbfgs import LBFGSTrainer
from .objective import LossWeights, Objective
from .outputs import IMAGE_EXTENSIONS, check_writable
from .reference import IMAGENET_MEAN, IMAGENET_STD
from .registry import load_backend
from .settings import D2L_SIZE, Settings, Stage
from .training import StepRecord, optimize
from .weights import Weights, resolve

# Called after every completed step with its record and a function that renders the current picture (the
# function costs a postprocess, or a generator's forward pass, so an observer calls it only when it wants one).
Observer = Callable[[StepRecord, Callable[[], Image.Image]], None]

# Settings a resumed run may change: where things are written and how much is said. The rest decides the result.
OUTPUT_SETTINGS = {"output", "log", "plot", "gif", "save_every", "checkpoint", "checkpoint_every", "resume", "quiet"}


@dataclass
class Result:
    """What a run produced: the final image, its history, the weights it used and how it ended."""

    image: Image.Image
    history: list[StepRecord]
    status: str
    weights: str
    settings: Settings
    record: dict[str, Any] = field(default_factory=dict)


def warn(message: str) -> None:
    """Print one warning line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


def noise_image(seed: int, size: tuple[int, int]) -> np.ndarray:
    """Uniform random uint8 pixels (H, W, 3), the same for every backend given a seed."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1])))
    return rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)


_caught: list[int] = []  # signals received since the outermost stop_on_signals block began
_depth = [0]


def _record_signal(signum: int, frame: object) -> None:
    _caught.append(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Callable[[], bool]]:
    """Within the block, SIGINT and SIGTERM set a flag (the job checks it between steps) instead of killing it.

    Blocks nest: the CLI opens one as soon as it starts, so a signal that comes while the arguments are read
    is seen by the job's own block; the outermost block installs the handlers and puts the old ones back.
    """
    previous = {}
    if _depth[0] == 0:
        _caught.clear()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                previous[sig] = signal.signal(sig, _record_signal)
    _depth[0] += 1
    try:
        yield lambda: bool(_caught)
    finally:
        _depth[0] -= 1
        for sig, old in previous.items():
            signal.signal(sig, old)


def intermediate_path(output: str, step: int) -> str:
    """out.png -> out_step0050.png."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}_step{step:04d}{p.suffix}"))


def run_size(s: Settings, content: Image.Image) -> tuple[int, int]:
    """The final (H, W): --size, else from --max-side or --min-side and the content's aspect, else 300 x 450."""
    if s.size is not None:
        return s.size
    if s.max_side is not None:
        return images.fit_size(content, s.max_side)
    if s.min_side is not None:
        return images.shorter_side_size(content, s.min_side)
    return D2L_SIZE


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


def write_record(
    s: Settings, ops: Backend, weights: Weights, status: str, started: float, history: list[StepRecord], what: str
) -> dict[str, Any]:
    """The run record of a finished job, written to --log, and its loss curves drawn to --plot if asked."""
    run_record = {
        "settings": s.as_dict(),
        "weights": weights.description,
        "versions": record.versions(ops.framework, ops.version),
        "command": record.dumps_argv(),
        "status": status,
        "seconds": round(time.time() - started, 3),
        "history": [r.as_dict() for r in history],
        "output": str(Path(s.output).resolve()),
    }
    if s.log:
        record.write(s.log, run_record)
    if s.plot and history:
        from .plotting import plot_losses

        plot_losses(history, s.plot, f"{ops.name} backend, {what}")
    return run_record


def resumed_settings(s: Settings, ckpt: checkpoint.Checkpoint) -> Settings:
    """The checkpoint's settings, with the output settings given now; UserError if anything else differs."""
    saved = Settings.from_dict(ckpt.settings)
    defaults = Settings()
    for f in fields(Settings):
        if f.name in OUTPUT_SETTINGS:
            continue
        now, then = getattr(s, f.name), getattr(saved, f.name)
        if now != then and now != getattr(defaults, f.name):
            flag = "--" + f.name.replace("_", "-")
            raise UserError(f"{flag} cannot change when resuming: the checkpoint was made with {flag} {then}")
    return saved.replace(**{name: getattr(s, name) for name in OUTPUT_SETTINGS})


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


def stylize(
    settings: Settings,
    backend: Backend | None = None,
    say: Callable[[str], None] = warn,
    observer: Observer | None = None,
) -> Result:
    """Run one job: check every input first, optimize stage by stage, then write the outputs atomically.

    SIGINT and SIGTERM are caught for the whole job: one that comes while weights load stops the run before
    its first step, one during a step stops it after that step, one while the outputs are written lets them
    finish; each ends with the image, the run record and a checkpoint written, and Interrupted (exit 130).
    ``observer``, if given, is called after every completed step (see Observer).
    """
    with stop_on_signals() as stop_requested:
        return _run_job(settings, backend, say, stop_requested, observer)


def _run_job(
    settings: Settings,
    backend: Backend | None,
    say: Callable[[str], None],
    stop_requested: Callable[[], bool],
    observer: Observer | None,
) -> Result:
    s = settings.validated()
    if s.method == "hrnet":
        from .photoreal_job import train

        return train(s, backend, say, observer)
    if s.save_model:
        raise UserError("--save-model saves a trained generator: it needs the photoreal method (nst photoreal)")
    if s.style_max_side is not None:
        raise UserError("--style-max-side is for the photoreal method (nst photoreal); use --style-scale here")
    ckpt = None
    if s.resume:
        ckpt = checkpoint.load(s.resume)
        s = resumed_settings(s, ckpt).validated()
    check_writable(s.output, IMAGE_EXTENSIONS)
    for path, extensions, what in (
        (s.log, (".json",), "run record (--log)"),
        (s.plot, (".png",), "loss plot (--plot)"),
        (s.gif, (".gif",), "animation (--gif)"),
        (s.checkpoint, (".npz",), "checkpoint (--checkpoint)"),
    ):
        if path:
            check_writable(path, extensions, what)

    content_path = s.content or str(samples.sample_path(samples.CONTENT))
    style_paths = list(s.style) or [str(samples.sample_path(samples.STYLE))]
    content_img = images.load_image(content_path, "content image")
    images.check_size(content_img, f"content image {content_path!r}")
    style_imgs = []
    for path in style_paths:
        style_imgs.append(images.load_image(path, "style image"))
        images.check_size(style_imgs[-1], f"style image {path!r}")
    init_img = None
    if s.init not in ("content", "noise", "style"):
        init_img = images.load_image(s.init, "--init image")
    inputs = [content_path, *style_paths] + ([s.init] if init_img is not None else [])
    fingerprints = {path: checkpoint.fingerprint(path) for path in inputs}
    if ckpt is not None and ckpt.fingerprints != fingerprints:
        raise UserError("an input image changed since the checkpoint was written; the run cannot continue it")

    size = run_size(s, content_img)
    stages = s.run_stages()
    all_layers = tuple(dict.fromkeys(s.content_layers + s.style_layers))
    deepest = layers.deepest(all_layers)
    need = max(16, layers.min_side(deepest))
    for i, stage in enumerate(stages, 1):
        h, w = stage_size(size, stage)
        if min(h, w) < need:
            raise UserError(
                f"stage {i} would be {h}x{w} pixels; layer {deepest.name} needs at least {need} on each side: "
                "use a larger --size or scale"
            )
        for path, img in zip(style_paths, style_imgs, strict=True):
            sh, sw = style_size(s, (h, w), img)
            if min(sh, sw) < need:
                raise UserError(
                    f"style image {path!r} would be {sh}x{sw} pixels at stage {i}; layer {deepest.name} needs at "
                    f"least {need} on each side: use a larger --style-scale"
                )

    check_memory(s, [stage_size(size, stage) for stage in stages], deepest)
    cpu.check_precision(s.precision, s.device)
    ops = backend or load_backend(s.backend, s.device)
    if ckpt is not None and ckpt.backend != ops.name:
        raise UserError(f"the checkpoint was made by the {ckpt.backend} backend; resume it there")
    weights: Weights = resolve(ops, s.weights, s.seed, deepest)
    if s.weights == "auto" and weights.source == "random":
        say(
            f"no ImageNet VGG-19 weights for {ops.name} (not cached, no network): using seeded random weights "
            f"(seed {s.seed}); they transfer colour and coarse texture, not the painterly detail of trained ones"
        )
    net = ops.vgg19(weights, pooling=s.pooling, dtype=s.dtype, upto=deepest.name)
    if s.precision == "fp16" and ops.device == "cpu":
        say("--precision fp16 is meant for GPUs: a CPU without fp16 matrix units runs it slower than fp32; use bf16")
    extractor = ops.feature_extractor(net, all_layers, s.precision)
    loss_weights = LossWeights(s.content_weight, s.style_weight, s.tv_weight, tuple(s.style_layer_weights))
    bounds = pixel_bounds(s.normalize) if s.clamp else None
    run = Run(ops, s, content_img, fingerprints, sum(stage.steps for stage in stages), ckpt, observer)
    previous: Image.Image | None = None
    started = time.time()
    for index, stage in enumerate(stages):
        if ckpt is not None and index < ckpt.stage:
            continue
        at = stage_size(size, stage)
        content_X = run.tensor(content_img, at)
        style_Xs = [run.tensor(img, style_size(s, at, img)) for img in style_imgs]
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
            init_X = run.tensor(style_imgs[0] if s.init == "style" else init_img, at)
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
            break
        previous = run.picture(run.trainer.image())

    status, history, checkpoint_path = run.status, run.history, s.checkpoint or checkpoint.default_path(s.output)
    final_X = run.trainer.last_finite_image() if status == "diverged" else run.trainer.image()
    result_img = run.picture(final_X)
    images.save_image(result_img, s.output)
    if status == "interrupted" or (s.checkpoint and status == "completed"):
        run.save_checkpoint(checkpoint_path)
    if s.gif:
        ends_on_a_frame = status == "completed" and history and run.last_frame_step == history[-1].step
        images.save_gif(run.frames if ends_on_a_frame else [*run.frames, result_img], s.gif)
    run_record = write_record(s, ops, weights, status, started, history, f"{size[0]}x{size[1]}")
    if status == "diverged":
        raise Diverged(
            f"the loss became non-finite at step {history[-1].step}; kept the last finite image in "
            f"{s.output}; lower --lr (now {stages[run.stage].lr})"
        )
    if status == "interrupted":
        when = f"after step {history[-1].step}" if history else "before the first step"
        raise Interrupted(
            f"interrupted {when}; wrote {s.output}; continue with: nst stylize --resume {checkpoint_path}"
        )
    if stop_requested():
        raise Interrupted(f"interrupted while the outputs were written; they are complete: {s.output}")
    return Result(result_img, history, status, weights.description, s, run_record)
