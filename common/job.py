"""One style-transfer job from settings to files: the CLI's ``stylize`` and the Python API's ``stylize()``."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import images, layers, record, samples
from .errors import Diverged, Interrupted
from .interface import Backend
from .objective import LossWeights, make_objective
from .outputs import IMAGE_EXTENSIONS, check_writable
from .registry import load_backend
from .settings import Settings
from .training import Outcome, StepRecord, optimize
from .weights import Weights, resolve


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


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Callable[[], bool]]:
    """Within the block, SIGINT and SIGTERM set a flag (checked after each step) instead of killing the run."""
    caught: list[int] = []
    previous = {}

    def handler(signum: int, frame: object) -> None:
        caught.append(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            previous[sig] = signal.signal(sig, handler)
    try:
        yield lambda: bool(caught)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def intermediate_path(output: str, step: int) -> str:
    """out.png -> out_step0050.png."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}_step{step:04d}{p.suffix}"))


def stylize(settings: Settings, backend: Backend | None = None, say: Callable[[str], None] = warn) -> Result:
    """Run one job: check every input first, optimize, then write the image, run record and plot atomically."""
    s = settings.validated()
    check_writable(s.output, IMAGE_EXTENSIONS)
    if s.log:
        check_writable(s.log, (".json",), "run record (--log)")
    if s.plot:
        check_writable(s.plot, (".png",), "loss plot (--plot)")
    content_path = s.content or str(samples.sample_path(samples.CONTENT))
    style_path = s.style or str(samples.sample_path(samples.STYLE))
    content_img = images.load_image(content_path, "content image")
    style_img = images.load_image(style_path, "style image")
    images.check_size(content_img, f"content image {content_path!r}")
    images.check_size(style_img, f"style image {style_path!r}")

    ops = backend or load_backend(s.backend, s.device)
    deepest = layers.deepest(s.content_layers + s.style_layers)
    weights: Weights = resolve(ops, s.weights, s.seed, deepest)
    if s.weights == "auto" and weights.source == "random":
        say(
            f"no ImageNet VGG-19 weights for {ops.name} (not cached, no network): using seeded random weights "
            f"(seed {s.seed}); they transfer colour and coarse texture, not the painterly detail of trained ones"
        )
    content_X = ops.preprocess(content_img, s.size, s.dtype)
    style_X = ops.preprocess(style_img, s.size, s.dtype)
    objective = make_objective(
        ops, content_X, style_X, s.content_layers, s.style_layers,
        LossWeights(s.content_weight, s.style_weight, s.tv_weight),
        vgg_weights=weights, pooling=s.pooling, dtype=s.dtype,
    )  # fmt: skip
    init_X = content_X if s.init == "content" else ops.to_tensor(noise_image(s.seed, s.size), s.dtype)
    trainer = ops.trainer(ops.synthesized_image(init_X), objective, s.lr, s.lr_decay_every, s.lr_decay_factor)

    def on_step(rec: StepRecord) -> None:
        if s.save_every and rec.step % s.save_every == 0 and rec.step < s.steps:
            images.save_image(ops.postprocess(trainer.image()), intermediate_path(s.output, rec.step))

    started = time.time()
    with stop_on_signals() as stop_requested:
        outcome: Outcome = optimize(
            trainer, s.steps, progress=not s.quiet, on_step=on_step, stop_requested=stop_requested
        )
    final = trainer.last_finite_image() if outcome.status == "diverged" else trainer.image()
    result_img = ops.postprocess(final) if final is not None else ops.postprocess(init_X)
    images.save_image(result_img, s.output)
    run_record = {
        "settings": s.as_dict(),
        "weights": weights.description,
        "versions": record.versions(ops.framework, ops.version),
        "command": record.dumps_argv(),
        "status": outcome.status,
        "seconds": round(time.time() - started, 3),
        "history": [r.as_dict() for r in outcome.history],
        "output": str(Path(s.output).resolve()),
    }
    if s.log:
        record.write(s.log, run_record)
    if s.plot and outcome.history:
        from .plotting import plot_losses

        plot_losses(outcome.history, s.plot, f"{ops.name} backend, {s.size[0]}x{s.size[1]}")
    if outcome.status == "diverged":
        raise Diverged(
            f"the loss became non-finite at step {outcome.history[-1].step}; kept the last finite image in "
            f"{s.output}; lower --lr (now {s.lr})"
        )
    if outcome.status == "interrupted":
        raise Interrupted(f"interrupted after step {outcome.history[-1].step}; wrote {s.output}")
    return Result(result_img, outcome.history, outcome.status, weights.description, s, run_record)
