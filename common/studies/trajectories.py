"""Whole training runs of both backends, step by step: the Gatys image (Adam from the content image or from
noise) and the HRNet generator; and the rule a float32 run is held to."""

from __future__ import annotations

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
) -> tuple[np.ndarray, np.ndarray]:
    """(losses of every step, shape (steps, 4); the final image as 8-bit pixels) of a d2l-layer Adam run."""
    content_X, style_X = ops.preprocess(content, size, dtype), ops.preprocess(style, size, dtype)
    objective = make_objective(ops, content_X, style_X, CONTENT_LAYERS, STYLE_LAYERS, seed=seed, dtype=dtype)
    init_X = content_X if init == "content" else ops.to_tensor(noise_image(seed, size), dtype)
    trainer = ops.trainer(ops.synthesized_image(init_X), objective, lr, DECAY_EVERY, DECAY_FACTOR)
    history = np.array([trainer.step() for _ in range(steps)])
    return history, np.asarray(ops.postprocess(trainer.image()), np.float64)


def trajectory_check(
    a: Backend,
    b: Backend,
    content: Image.Image,
    style: Image.Image,
    size: tuple[int, int],
    dtype: str,
    init: str,
    seed: int,
    ha: np.ndarray,
    hb: np.ndarray,
) -> Check:
    """Per-step losses of both backends' runs against the tolerance, or, in float32, against rounding.

    A float32 Adam run is itself up to a few 1e-3 from the same run in float64 (docs/porting.md, "float32 Adam
    runs drift"), more than the 1e-3 tolerance at some inputs, so no float32 program can be held to it there.
    Beyond the tolerance, the row runs both backends in float64 too and passes only if those agree to 1e-12:
    then the float32 difference is rounding, since |a32 - b32| <= |a32 - a64| + |a64 - b64| + |b64 - b32| at
    every step and loss (checked). The row then rests on float64 parity, which is where sameness is proven; it
    says so, with each backend's own float32 error.
    """
    tol = TOLERANCES[dtype]
    steps, lr = int(tol["steps"]), tol["lr"]
    diff, rel = step_differences(ha, hb)
    what = f"{steps} Adam steps (lr {lr:g}) from {init} init: losses of every step"
    if rel <= tol["step_rel"] or dtype != "float32":
        return Check(what, dtype, diff, rel, f"rel <= {tol['step_rel']:g}", rel <= tol["step_rel"])
    a64 = trajectory(a, content, style, size, "float64", init, steps, lr, seed)[0]
    b64 = trajectory(b, content, style, size, "float64", init, steps, lr, seed)[0]
    own_a, own_b = step_differences(ha, a64)[1], step_differences(hb, b64)[1]
    # the triangle inequality, evaluated with a 1e-12 relative slack: it is tight when the two float32 runs
    # round to opposite sides of the exact value
    bound = np.abs(ha - a64) + np.abs(a64 - b64) + np.abs(b64 - hb) + 1e-12 * np.abs(a64)
    explained = bool(np.all(np.abs(ha - hb) <= bound)) and step_differences(a64, b64)[1] <= 1e-12
    what += f" (over 1e-3; each backend alone is {own_a:.1e} and {own_b:.1e} from its float64 run)"
    return Check(what, dtype, diff, rel, "rel <= 0.001 or rounding", explained)


def generator_run(
    ops: Backend, content: Image.Image, style: Image.Image, size: tuple[int, int], dtype: str, seed: int
) -> np.ndarray:
    """Losses of every step, shape (steps, 4), of training the seeded HRNet generator on the photoreal objective."""
    recipe = get("photoreal-hrnet").values
    names = tuple(dict.fromkeys(recipe["content_layers"] + recipe["style_layers"]))
    net = ops.vgg19("random", seed=seed, dtype=dtype, upto=layers.deepest(names).name)
    content_X, style_X = ops.preprocess(content, size, dtype), ops.preprocess(style, size, dtype)
    weights = LossWeights(recipe["content_weight"], recipe["style_weight"], 0.0, recipe["style_layer_weights"])
    objective = PhotorealObjective(
        ops,
        ops.feature_extractor(net, names),
        recipe["content_layers"],
        recipe["style_layers"],
        content_X,
        style_X,
        weights,
    )
    generator = ops.generator(random_generator(seed), dtype)
    trainer = ops.trainer(
        generator, objective, GENERATOR_LR, GENERATOR_DECAY_EVERY, recipe["lr_decay_factor"], inputs=(content_X,)
    )
    return np.array([trainer.step() for _ in range(GENERATOR_STEPS)])


def generator_checks(
    a: Backend, b: Backend, content: Image.Image, style: Image.Image, size: tuple[int, int], dtype: str, seed: int
) -> list[Check]:
    """The seeded HRNet generator's output for the content image, and a training run's losses at every step.

    The size is cut down to multiples of 4, which the generator needs. float32 runs are held to rel <= 1e-3 or,
    beyond it, to rounding, exactly as trajectory_check holds the Gatys runs: training the generator in float32
    is itself up to a few 1e-3 from float64 in either framework.
    """
    size = (size[0] // 4 * 4, size[1] // 4 * 4)
    tol = TOLERANCES[dtype]
    outputs = []
    for ops in (a, b):
        generator = ops.generator(random_generator(seed), dtype)
        outputs.append(ops.to_numpy(generator(ops.preprocess(content, size, dtype))))
    checks = [rel_check("HRNet generator: output for the content image", dtype, outputs[0], outputs[1], tol["rel"])]
    ha, hb = (generator_run(ops, content, style, size, dtype, seed) for ops in (a, b))
    diff, rel = step_differences(ha, hb)
    what = f"HRNet generator: {GENERATOR_STEPS} Adam steps (lr {GENERATOR_LR:g}): losses of every step"
    if rel <= tol["step_rel"] or dtype != "float32":
        return [*checks, Check(what, dtype, diff, rel, f"rel <= {tol['step_rel']:g}", rel <= tol["step_rel"])]
    a64, b64 = (generator_run(ops, content, style, size, "float64", seed) for ops in (a, b))
    own_a, own_b = step_differences(ha, a64)[1], step_differences(hb, b64)[1]
    bound = np.abs(ha - a64) + np.abs(a64 - b64) + np.abs(b64 - hb) + 1e-12 * np.abs(a64)
    explained = bool(np.all(np.abs(ha - hb) <= bound)) and step_differences(a64, b64)[1] <= 1e-12
    what += f" (over 1e-3; each backend alone is {own_a:.1e} and {own_b:.1e} from its float64 run)"
    return [*checks, Check(what, dtype, diff, rel, "rel <= 0.001 or rounding", explained)]
