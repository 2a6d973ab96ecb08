"""The fast preset's stages and the measured reasons for them (issue 25): this project's own recipe, not a
document's. presets.py offers it as ``--preset fast``; ``nst presets`` prints FAST_CHOICES."""

from __future__ import annotations

from .settings import Stage

# The d2l objective, coarse to fine, the image a pyramid of levels (core/pyramid.py) in both stages; the schedule
# found by measurement (benchmarks/fast_schedules.py, timed by benchmarks/fast_preset.py; docs/speed.md).
FAST_STAGES = (
    Stage(scale=0.5, steps=60, lr=0.2, lr_decay_every=15, lr_decay_factor=0.8, levels=3),
    Stage(scale=1.0, steps=24, lr=0.01, lr_decay_every=24, lr_decay_factor=1.0, levels=4),
)
FAST_CHOICES = (
    "Schedules were judged by the d2l objective at full size on the 8-bit image over the recipe's final loss, "
    "against their cost in full-size step equivalents (steps x scale^2), measured, not timed (benchmarks/"
    "fast_schedules.py; torch, AMD EPYC Zen 4, 2026-12-08): 0.964 on the sample pair and 1.165 on astronaut/coffee "
    "for 39 equivalents (the recipe: 500); the four plain stages before it (0.25, 0.5, 0.7, 1) needed 66.2 for "
    "0.987 and 1.158.",
    "Each stage's image is a pyramid: a full-size level and levels of 1/2, 1/4 (and 1/8) of its size, upsampled "
    "bilinearly, each a parameter of the same Adam, so a step moves structure of every size by about the learning "
    "rate, where plain Adam moves single pixels (a 4-level step costs what a plain one does, within the noise). "
    "From the same start, 12 full-size pyramid steps ended lower than 32 plain ones (0.999 against 1.005).",
    "A quarter-size stage first, plain or on a pyramid, ends no better on the sample pair for its cost and worse on "
    "astronaut/coffee (1.44 of the recipe's loss with a 3-level quarter stage), where coarse stages lose the face.",
    "The full-size stage runs Adam at lr 0.01 without decay: at 0.02 it ends at the same loss on the sample pair "
    "(0.964 after 28 steps instead of 24). L-BFGS (one evaluation per step) lost to Adam in every measured "
    "schedule, and optimizes the pixels: it cannot go with pyramid levels.",
)
