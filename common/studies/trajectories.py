"""Whole training runs of both backends, step by step: the Gatys image (Adam from the content image or from
noise) and the HRNet generator; and their rows in nst parity (float32 runs held to the envelope: envelope.py)."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

import numpy as np
from PIL import Image

from ..core import layers
from ..core.hrnet import random_generator
from ..core.interface import Backend
from ..core.objective import LossWeights, make_objective
from ..core.photoreal_objective import PhotorealObjective
from ..core.recipe import CONTENT_LAYERS, STYLE_LAYERS
from ..jobs.gatys import noise_image
from ..jobs.presets import get
from . import envelope
from .checks import (
    DECAY_EVERY,
    DECAY_FACTOR,
    GENERATOR_DECAY_EVERY,
    GENERATOR_LR,
    GENERATOR_STEPS,
    TOLERANCES,
    Check,
    rel_check,
    step_differences,
)
from .memo import Memo, once

# (backend, dtype, wrap for its trainer or None) -> losses of every step: one row's run, in either backend and dtype
RowRun = Callable[[Backend, str, "envelope.Wrap | None"], np.ndarray]
# Measured references (clean float64 runs and envelopes) by row, kept by a caller that judges other float32 runs
References = MutableMapping[str, envelope.Reference]


def trajectory(
    ops: Backend,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int],
    dtype: str,
    init: str,
    steps: int,
    lr: float,
    seed: int = 0,
    wrap: envelope.Wrap | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(losses of every step, shape (steps, 4); the final image as 8-bit pixels) of a d2l-layer Adam run (its
    trainer wrapped by ``wrap`` if given)."""
    content_X, style_X = ops.preprocess(content, size, dtype), ops.preprocess(style, size, dtype)
    objective = make_objective(ops, content_X, style_X, CONTENT_LAYERS, STYLE_LAYERS, seed=seed, dtype=dtype)
    init_X = content_X if init == "content" else ops.to_tensor(noise_image(seed, size), dtype)
    trainer = ops.trainer(ops.synthesized_image(init_X), objective, lr, DECAY_EVERY, DECAY_FACTOR)
    trainer = wrap(trainer) if wrap is not None else trainer
    history = np.array([trainer.step() for _ in range(steps)])
    return history, np.asarray(ops.postprocess(trainer.image()), np.float64)


def float32_row(
    a: Backend,
    b: Backend,
    what: str,
    run: RowRun,
    whole_run: bool = False,
    references: References | None = None,
    memo: Memo | None = None,
    inputs: tuple = (),
) -> Check:
    """A float32 training row: each backend's run held to its own float64 run within MULTIPLE x the envelope (at
    every step, or over the whole run), its first step to the float64 run's in size, the envelope's first updates
    in the directions of each backend's float32 run (envelope.py).

    ``references`` keeps the measured float64 runs and envelope by row (``what``), so that other float32 runs of
    the same row (tests inject errors into them) are judged without measuring again. ``memo`` keeps each
    backend's runs by (``inputs``, backend, row), so that its other pairs (nst parity) take them from there.
    """

    def recorded(ops: Backend) -> tuple[np.ndarray, envelope.FirstUpdate | None]:
        """The backend's float32 run, and its first update."""
        first: list[envelope.FirstUpdate] = []
        losses = run(ops, "float32", lambda trainer: first.append(envelope.FirstUpdate(trainer)) or first[-1])
        if not first:
            return losses, None
        first[0].trainer = None  # its update is what is kept, not the trainer (a whole network, in a memo)
        return losses, first[0]

    (ha, fa), (hb, fb) = (
        once(memo, (*inputs, ops.name, what, "float32"), lambda o=ops: recorded(o))[0] for ops in (a, b)
    )
    ref = references.get(what) if references is not None else None
    if ref is None:
        signs = (fa.signs if fa else None, fb.signs if fb else None)
        runs = (lambda w: run(a, "float64", w), lambda w: run(b, "float64", w))
        keys = ((*inputs, a.name, what, "float64"), (*inputs, b.name, what, "float64"))
        ref = envelope.measure(*runs, signs, memo=memo, keys=keys)
        if references is not None:
            references[what] = ref
    verdict = envelope.judge(ha, hb, ref, whole_run, (fa, fb))
    diff, rel = step_differences(ha, hb)
    tolerance = f"<= {envelope.MULTIPLE:g}x envelope"
    return Check(what, "float32", diff, rel, tolerance, verdict.passed, verdict.as_dict((a.name, b.name)))


def float64_row(
    a: Backend, b: Backend, what: str, dtype: str, run: RowRun, memo: Memo | None = None, inputs: tuple = ()
) -> Check:
    """A training row in its own dtype without an envelope (float64): both backends' losses at every step within
    step_rel of each other, each backend's run kept in ``memo`` by (``inputs``, backend, row) as float32_row's."""
    tol = TOLERANCES[dtype]
    ha, hb = (once(memo, (*inputs, ops.name, what, dtype), lambda o=ops: run(o, dtype, None))[0] for ops in (a, b))
    diff, rel = step_differences(ha, hb)
    return Check(what, dtype, diff, rel, f"rel <= {tol['step_rel']:g}", rel <= tol["step_rel"])


def trajectory_row(
    a: Backend,
    b: Backend,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int],
    dtype: str,
    init: str,
    seed: int,
    references: References | None = None,
    memo: Memo | None = None,
    inputs: tuple = (),
) -> tuple[Check, np.ndarray, np.ndarray]:
    """The row of an Adam run from init: per-step losses (float64: rel <= step_rel; float32: the envelope), and
    both final 8-bit images (``memo`` and ``inputs``: float32_row's)."""
    tol = TOLERANCES[dtype]
    steps, lr = int(tol["steps"]), tol["lr"]
    what = f"{steps} Adam steps (lr {lr:g}) from {init} init: losses of every step"
    # the row's own runs' final images by backend, kept beside its runs in the memo
    finals: dict[str, np.ndarray] = once(memo, (*inputs, what, dtype, "finals"), dict)[0]

    def run(ops: Backend, run_dtype: str, wrap: envelope.Wrap | None) -> np.ndarray:
        history, final = trajectory(ops, content, style, size, run_dtype, init, steps, lr, seed, wrap)
        if run_dtype == dtype:  # the row's own run (the envelope's runs are float64 runs of a float32 row)
            finals[ops.name] = final
        return history

    if dtype == "float32":
        check = float32_row(a, b, what, run, references=references, memo=memo, inputs=inputs)
    else:
        check = float64_row(a, b, what, dtype, run, memo, inputs)
    return check, finals[a.name], finals[b.name]


def generator_run(
    ops: Backend,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int],
    dtype: str,
    seed: int,
    wrap: envelope.Wrap | None = None,
    schedule: tuple[float, int, int] | None = None,
) -> np.ndarray:
    """Losses of every step, shape (steps, 4), of training the seeded HRNet generator on the photoreal recipe's
    objective (the style image at the output's size), its trainer wrapped by ``wrap`` if given; ``schedule`` is
    (lr, decay every, steps), by default the parity row's (GENERATOR_LR, GENERATOR_DECAY_EVERY, GENERATOR_STEPS)."""
    lr, decay_every, steps = schedule or (GENERATOR_LR, GENERATOR_DECAY_EVERY, GENERATOR_STEPS)
    r = get("photoreal-hrnet").values
    names = tuple(dict.fromkeys(r["content_layers"] + r["style_layers"]))
    net = ops.vgg19("random", seed=seed, dtype=dtype, upto=layers.deepest(names).name)
    content_X, style_X = ops.preprocess(content, size, dtype), ops.preprocess(style, size, dtype)
    weights = LossWeights(r["content_weight"], r["style_weight"], r["tv_weight"], r["style_layer_weights"])
    extract = ops.feature_extractor(net, names)
    taps = (r["content_layers"], r["style_layers"])
    objective = PhotorealObjective(ops, extract, *taps, content_X, style_X, weights, r["style_gram"])
    generator = ops.generator(random_generator(seed), dtype)
    trainer = ops.trainer(generator, objective, lr, decay_every, r["lr_decay_factor"], inputs=(content_X,))
    trainer = wrap(trainer) if wrap is not None else trainer
    return np.array([trainer.step() for _ in range(steps)])


def generator_checks(
    a: Backend,
    b: Backend,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int],
    dtype: str,
    seed: int,
    references: References | None = None,
    memo: Memo | None = None,
    inputs: tuple = (),
) -> list[Check]:
    """The seeded HRNet generator's output for the content image, and a training run's losses at every step
    (``memo`` and ``inputs``: float32_row's).

    The size is cut down to multiples of 4, which the generator needs. A float32 training run is held to its own
    float64 run within MULTIPLE x the envelope's largest value over the run (envelope.py: the generator's float32
    error comes mostly from its backward pass, which parameter noise reaches only some steps later), and its first
    step to the float64 run's in size.
    """
    size = (size[0] // 4 * 4, size[1] // 4 * 4)
    tol = TOLERANCES[dtype]
    outputs = []
    for ops in (a, b):
        generator = ops.generator(random_generator(seed), dtype)
        outputs.append(ops.to_numpy(generator(ops.preprocess(content, size, dtype))))
    checks = [rel_check("HRNet generator: output for the content image", dtype, outputs[0], outputs[1], tol["rel"])]
    what = f"HRNet generator: {GENERATOR_STEPS} Adam steps (lr {GENERATOR_LR:g}): losses of every step"

    def run(ops: Backend, run_dtype: str, wrap: envelope.Wrap | None) -> np.ndarray:
        return generator_run(ops, content, style, size, run_dtype, seed, wrap)

    if dtype == "float32":
        return [*checks, float32_row(a, b, what, run, True, references, memo, inputs)]
    return [*checks, float64_row(a, b, what, dtype, run, memo, inputs)]
