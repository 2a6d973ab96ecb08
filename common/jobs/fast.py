"""The fast preset's stages and the measured reasons for them (issue 25): this project's own recipe, not a
document's. presets.py offers it as ``--preset fast``; ``nst presets`` prints FAST_CHOICES."""

from __future__ import annotations

from .settings import Stage

# This project's own recipe (issue 25), not a document's: the d2l objective, coarse to fine, its schedule found by
# measurement (benchmarks/fast_preset.py; docs/speed.md). FAST_CHOICES says what was measured.
FAST_STAGES = (
    Stage(scale=0.25, steps=200, lr=0.3, lr_decay_every=50, lr_decay_factor=0.8),
    Stage(scale=0.5, steps=60, lr=0.1, lr_decay_every=15, lr_decay_factor=0.8),
    Stage(scale=0.7, steps=30, lr=0.05, lr_decay_every=10, lr_decay_factor=0.8),
    Stage(scale=1.0, steps=24, lr=0.01, lr_decay_every=24, lr_decay_factor=1.0),
)
FAST_CHOICES = (
    "Schedules were judged by the d2l objective at full size on the 8-bit image over the recipe's final loss, "
    "against their cost in full-size step equivalents (steps x scale^2), measured, not timed (benchmarks/"
    "fast_schedules.py; torch, AMD EPYC Zen 4, 2026-12-07): 0.987 for 66.2 equivalents (the recipe: 500); the "
    "three stages before it (0.25, 0.5, 1) needed 72.5 for 0.985: from 0.7 the full-size stage starts at 1.05.",
    "The full-size stage runs Adam at lr 0.01 without decay: Adam's first steps move every pixel by about its "
    "learning rate (from lr 0.1 the loss rose from 1.16 to 1.79 of the recipe's in 5 steps); from 0.01 it rises "
    "2% and is under 1.0 in 17 steps. Adam's moments carried over from the stage before removed the rise, not the "
    "time to 1.0.",
    "L-BFGS (one evaluation per step) lost to Adam: alone at full size 2.19x the recipe's loss after 40 steps; as "
    "the full-size stage after two Adam stages, 1.0006x after 30 steps against Adam's 0.994x.",
)
