"""The HRNet generator trained at the photoreal recipe's own learning rate, 5e-3, in float64, in every backend.

The float32 generator row (trajectories.generator_checks) trains at lr 1e-4, because at 5e-3 the training can be
chaotic: on some images a 1e-13 change grows about 10x per step in any one framework (docs/porting.md, the last
pitfall). On the bundled samples at 48x64 it is not: there the float64 runs of the two backends agreed within
1e-9 at every one of the 150 steps measured (3.4e-13 at most, no larger after step 22). This row runs the first
RECIPE_STEPS of them, so that the recipe itself is proven, and asserts every step.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..core.interface import Backend
from ..jobs import images, samples
from ..jobs.presets import get
from .checks import TOLERANCES, Check, step_differences
from .memo import Memo, once
from .trajectories import generator_run

# Steps of the recipe run by the row: the backends agreed within 1e-9 over all 150 steps measured on the samples;
# 60 (as many as the float64 Gatys rows) keep nst parity's time in bounds. And the recipe it trains with.
RECIPE_STEPS = 60
RECIPE = "photoreal-hrnet"
RECIPE_SIZE = (48, 64)  # nst parity's default size, where the 150 steps were measured


def recipe_run(
    ops: Backend, content: Image.Image, style: Image.Image, size: tuple[int, int], steps: int, seed: int = 0
) -> np.ndarray:
    """Losses of every step, shape (steps, 4), training the seeded generator with the recipe's objective and
    schedule (lr 5e-3, x0.9 every 200 steps) in float64; the style image at the output's size."""
    r = get(RECIPE).values
    return generator_run(ops, content, style, size, "float64", seed, schedule=(r["lr"], r["lr_decay_every"], steps))


def recipe_rate_check(a: Backend, b: Backend, seed: int, memo: Memo | None = None) -> Check:
    """RECIPE_STEPS float64 steps of the recipe in both backends on the bundled samples at RECIPE_SIZE, whatever
    images nst parity compares: every step's losses within 1e-9. On other images the training at this rate can be
    chaotic (a 1e-13 difference grows about 10x per step: on astronaut and coffee the row failed), which says
    nothing about the two programs; the samples are where the rate was measured to stay within 1e-9. A
    backend's run is kept in ``memo`` (by backend and seed: its inputs are always these) for its other pairs."""
    content, style = (images.load_image(samples.sample_path(name)) for name in (samples.CONTENT, samples.STYLE))
    ha, hb = (
        once(
            memo,
            (RECIPE, RECIPE_STEPS, seed, ops.name),
            lambda o=ops: recipe_run(o, content, style, RECIPE_SIZE, RECIPE_STEPS, seed),
        )[0]
        for ops in (a, b)
    )
    diff, rel = step_differences(ha, hb)
    tol = TOLERANCES["float64"]["step_rel"]
    lr = get(RECIPE).values["lr"]
    at = f"{RECIPE_SIZE[0]}x{RECIPE_SIZE[1]}"
    what = f"HRNet generator: {RECIPE_STEPS} Adam steps at the recipe's lr {lr:g} (bundled samples, {at}): "
    what += "losses of every step"
    return Check(what, "float64", diff, rel, f"rel <= {tol:g}", rel <= tol)
