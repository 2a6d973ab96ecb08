"""How far float32 rounding can carry a training run: the envelope a float32 run of nst parity is held to.

A float32 Adam run drifts from the same run in float64 (docs/porting.md, "float32 Adam runs drift"), so two float32
runs cannot be judged by their difference alone: any difference is "rounding" once the float64 runs agree (the
triangle inequality). Each backend's float32 run is held to its own float64 run instead, and only as far from it
as float32-sized rounding carries that float64 program: the float64 run is repeated with every parameter multiplied
by (1 + 2^-24 N(0, 1)) after every step (seeded; through the Trainer contract's state() and load_state(), so both
backends are perturbed alike), SEEDS times, the seeds taken in turn by the two backends (their float64 runs are the
same program to 1e-15, which the float64 rows check). The envelope at step t is the largest relative difference of
any loss from the clean float64 run at any step up to t over those runs. A float32 run FAILS when its own difference
at some step exceeds MULTIPLE x the envelope (never less than FLOOR): at every step for the Gatys image runs, whose
parameters are the image that float32 rounds; over the whole run for the HRNet generator (whole_run), whose float32
error enters mainly through the backward pass (its weight gradients are about 50 roundings from float64's), which
parameter noise reaches only some steps later (docs/parity.md). It also FAILS when its first update is not, in size, its
float64 run's (first_step_error): both start from the same parameters, so before chaos sets in the float32 step's
size must be the float64 step's to rounding; this catches errors in the size of the steps that the whole-run
judging of a chaotic run cannot (a generator's steps 0.1% too long).

The first step of each noisy run moves every parameter as far as the float64 program moves it, in the direction the
float32 run moved it (FirstUpdate): Adam's first update is about lr times the sign of the gradient, and where a
gradient is near zero (a flat image region, a weight that flat input barely reaches) float32's rounding of it
decides that sign; measured on a flat synthetic scene, 0.03-0.4% of the generator's weights moved the other way in
float32, which put both backends' float32 runs 100x beyond the parameter-noise envelope at step 2 (docs/parity.md). Only
signs are taken from the float32 run: an error in the size of its steps stays outside the envelope and fails the row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.training import StepLosses, Trainer
from .memo import Memo, once

NOISE = 2.0**-24  # float32's unit roundoff: one rounding of a float32 number changes it by up to this, relative
SEEDS = 4
MULTIPLE = 4.0
# Never less than this, relative: in the first steps, before the envelope has grown, float32 rounding of the first
# gradient changes the size of the first updates of pixels whose gradient is near Adam's epsilon 1e-8 (by amounts
# its last digits decide), which the envelope does not model (it takes only the directions of the first update from
# the float32 run): measured up to 3.5e-6 at step 2 (docs/parity.md); a loss is evaluated to about 1e-7.
FLOOR = 1e-5
Wrap = Callable[[Trainer], Any]
Run = Callable[[Wrap | None], np.ndarray]  # a wrapper for the run's trainer (or None) -> losses, shape (steps, 4)


Signs = dict[str, np.ndarray]  # per parameter ("param.N"): the sign (-1, 0, 1) of each element's first update
Update = dict[str, np.ndarray]  # per parameter ("param.N"): each element's first update, in float64
# How far the size of a float32 run's first update may be from its float64 run's: the mean, over the elements both
# moved the same way by at least half the largest move, of |float32 move| / |float64 move as float32 holds it|, within
# 1 +- this. "As float32 holds it": the float64 move added to the float32 parameter and rounded to float32, for the
# float32 grid quantizes a move: at lr 1e-4 a weight in [0.125, 0.25) moves by a whole number of its 1.5e-8 steps,
# 1.7e-5 further than 1e-4 (the raw ratio was 1 + 8e-6 on average, the same in both backends on every pair). Measured
# against the held move: at most 3e-7 in every row, both backends, the four pairs of benchmarks/parity_margin.py.
STEP_SIZE = 1e-6


class Wrapped:
    """A trainer around another (``trainer``): everything but its step is the other's."""

    trainer: Trainer

    @property
    def learning_rate(self) -> float:
        """The wrapped trainer's learning rate."""
        return self.trainer.learning_rate

    def image(self) -> Any:
        """The wrapped trainer's image."""
        return self.trainer.image()

    def state(self) -> dict[str, np.ndarray]:
        """The wrapped trainer's state."""
        return self.trainer.state()

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore the wrapped trainer's state."""
        self.trainer.load_state(state)


class FirstUpdate(Wrapped):
    """A trainer that keeps its first update (each parameter's change, in float64) and the parameters it started
    from (in their own dtype), otherwise unchanged."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer, self.update, self.start = trainer, None, None

    def step(self) -> StepLosses:
        """The wrapped trainer's step; the first one also records the parameters' changes."""
        before = self.trainer.state() if self.update is None else None
        losses = self.trainer.step()
        if before is not None:
            after = self.trainer.state()
            self.start = {k: v for k, v in before.items() if k.startswith("param.")}
            self.update = {k: after[k].astype(np.float64) - v for k, v in self.start.items()}
        return losses

    @property
    def signs(self) -> Signs | None:
        """The directions of the first update, per parameter."""
        return None if self.update is None else {k: np.sign(v) for k, v in self.update.items()}


class NoisyTrainer(Wrapped):
    """A trainer whose parameters are multiplied by (1 + noise N(0, 1)) after every step, seeded; given ``signs``,
    its first update goes in their directions (each element moved by its own update's size).

    No noise before the first step: a run starts from numbers it holds exactly in its own dtype (the
    content-initialized image is its own content target, so its content loss and gradient are exactly 0 in float32
    as in float64); rounding begins with the first update. Perturbing the start too made the content row's envelope
    15x wider than any float32 run's drift (measured).
    """

    def __init__(self, trainer: Trainer, seed: int, noise: float = NOISE, signs: Signs | None = None) -> None:
        self.trainer, self.noise, self.signs = trainer, noise, signs
        self.rng = np.random.default_rng([seed, 24])

    def step(self) -> StepLosses:
        """The wrapped trainer's step (the first one in the given directions), then the perturbation."""
        before = self.trainer.state() if self.signs is not None else None
        losses = self.trainer.step()
        state = self.trainer.state()
        if before is not None:
            for key, sign in self.signs.items():
                moved = np.abs(state[key] - before[key])
                state[key] = np.where(sign == 0, state[key], before[key] + sign * moved).astype(state[key].dtype)
            self.signs = None
        for key in sorted(k for k in state if k.startswith("param.")):
            value = state[key]
            state[key] = (value * (1 + self.noise * self.rng.standard_normal(value.shape))).astype(value.dtype)
        self.trainer.load_state(state)
        return losses


def per_step_rel(h: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per step: the largest relative difference of any loss from the reference (two zeros are equal)."""
    diff, scale = np.abs(h - reference), np.abs(reference)
    return np.where(diff == 0, 0.0, diff / np.where(scale > 0, scale, 1.0)).max(axis=1)


@dataclass(frozen=True)
class Reference:
    """Both backends' clean float64 runs of a row, and the envelope (per step, non-decreasing)."""

    clean: tuple[np.ndarray, np.ndarray]
    envelope: np.ndarray
    seconds: float = 0.0
    first: tuple[Update | None, Update | None] = (None, None)  # each clean float64 run's first update

    def allowed(self, whole_run: bool) -> np.ndarray:
        """Per step, how far (relative) a float32 run may be from its backend's clean float64 run."""
        envelope = np.full_like(self.envelope, self.envelope.max()) if whole_run else self.envelope
        return np.maximum(MULTIPLE * envelope, FLOOR)


def measure(
    run_a: Run,
    run_b: Run,
    signs: tuple[Signs | None, Signs | None] = (None, None),
    seeds: int = SEEDS,
    memo: Memo | None = None,
    keys: tuple[tuple, tuple] = ((), ()),
) -> Reference:
    """The clean float64 runs and the envelope of seeded float32-sized noise, seeds alternating between backends,
    each noisy run's first update in the directions of its backend's float32 run (``signs``, where given).

    With a ``memo``, each backend's runs are kept in it under its key in ``keys`` and taken from it when there:
    the caller's keys must name everything a run depends on (backend, row, inputs) but the signs, which must be
    that backend's own float32 run's."""
    runs = (run_a, run_b)

    def clean_run(k: int) -> tuple[np.ndarray, Update | None]:
        """A clean run of backend k, its first update recorded."""
        first: list[FirstUpdate] = []
        losses = runs[k](lambda trainer: first.append(FirstUpdate(trainer)) or first[-1])
        return losses, first[0].update

    made = [once(memo, (*keys[k], "clean"), lambda k=k: clean_run(k)) for k in (0, 1)]
    seconds = made[0][1] + made[1][1]
    clean = (made[0][0][0], made[1][0][0])
    spread = np.zeros(len(clean[0]))
    for seed in range(seeds):
        k = seed % 2
        noisy, took = once(
            memo,
            (*keys[k], "noisy", seed),
            lambda s=seed, k=k: runs[k](lambda trainer: NoisyTrainer(trainer, s, signs=signs[k])),
        )
        seconds += took
        spread = np.maximum(spread, per_step_rel(noisy, clean[k]))
    return Reference(clean, np.maximum.accumulate(spread), seconds, (made[0][0][1], made[1][0][1]))


def first_step_error(first32: FirstUpdate | None, update64: Update | None) -> float:
    """|mean |float32 move| / |float64 move as float32 holds it| - 1| over the elements both first updates moved the
    same way by at least half the largest float64 move of any parameter (Adam's full steps; not those where float64's
    gradient is near 0, such as a bias an instance norm follows, which float32's rounding moves by up to lr); 0.0
    where either update is unknown."""
    if first32 is None or first32.update is None or update64 is None:
        return 0.0
    largest = max((float(np.abs(v).max()) for v in update64.values() if v.size), default=0.0)
    ratios = []
    for key, move64 in update64.items():
        start, move32 = first32.start[key], first32.update[key]
        held = (start + move64).astype(start.dtype).astype(np.float64) - start
        big = (np.abs(move64) >= 0.5 * largest) & (np.sign(move32) == np.sign(move64)) & (held != 0)
        ratios.append(np.abs(move32[big]) / np.abs(held[big]))
    joined = np.concatenate(ratios) if ratios else np.ones(0)
    return float(abs(joined.mean() - 1)) if joined.size else 0.0


@dataclass(frozen=True)
class Verdict:
    """Each backend's float32 drift from its own float64 run, per step, against what it is allowed."""

    drift: tuple[np.ndarray, np.ndarray]
    allowed: np.ndarray
    envelope: np.ndarray
    whole_run: bool
    mutual: float  # the float32 runs' largest difference over the sum of their allowances and the float64 runs'
    seconds: float = 0.0  # wall time of the float64 runs (2 clean, SEEDS noisy), made here or for another pair
    step_size: tuple[float, float] = (0.0, 0.0)  # each backend's first_step_error

    @property
    def ratios(self) -> tuple[float, float]:
        """Each backend's worst drift over its allowance (above 1: FAIL)."""
        return float((self.drift[0] / self.allowed).max()), float((self.drift[1] / self.allowed).max())

    @property
    def passed(self) -> bool:
        """Both drifts within their allowance at every step (then the two runs are within the sum of theirs), and
        both first steps of their float64 runs' size."""
        return max(self.ratios) <= 1.0 and max(self.step_size) <= STEP_SIZE

    def as_dict(self, names: tuple[str, str]) -> dict[str, Any]:
        """The numbers nst parity reports beside the row: the envelope, each drift and the allowance per step."""
        out: dict[str, Any] = {
            "noise": NOISE,
            "seeds": SEEDS,
            "multiple": MULTIPLE,
            "floor": FLOOR,
            "judged": "over the whole run" if self.whole_run else "at every step",
            "step_size_tolerance": STEP_SIZE,
            "envelope": float(self.envelope.max()),
            "envelope_per_step": self.envelope.tolist(),
            "allowed_per_step": self.allowed.tolist(),
            "a_minus_b_over_bound": self.mutual,
            "float64_runs_seconds": self.seconds,
        }
        for name, drift, ratio, size in zip(names, self.drift, self.ratios, self.step_size, strict=True):
            out[name] = {
                "drift": float(drift.max()),
                "worst_drift_over_allowed": ratio,
                "per_step": drift.tolist(),
                "first_step_size_error": size,
            }
        return out


def judge(
    ha: np.ndarray,
    hb: np.ndarray,
    ref: Reference,
    whole_run: bool = False,
    first: tuple[FirstUpdate | None, FirstUpdate | None] = (None, None),
) -> Verdict:
    """Hold two float32 runs (losses per step, and their first updates where known) to their backends' float64
    runs and the envelope."""
    clean_a, clean_b = ref.clean
    drift = (per_step_rel(ha, clean_a), per_step_rel(hb, clean_b))
    allowed = ref.allowed(whole_run)
    # What follows for the two float32 runs (reported, not a further test: it holds whenever both drifts are
    # within their allowances, wherever the float64 loss is not 0): |a32 - b32| <= |a32 - a64| + |a64 - b64| +
    # |b64 - b32|, each drift bounded by the measured envelope, so they differ by at most the sum of their
    # allowances and the float64 runs' difference
    bound = allowed[:, None] * (np.abs(clean_a) + np.abs(clean_b)) + np.abs(clean_a - clean_b)
    diff = np.abs(ha - hb)
    over = np.where(diff == 0, 0.0, np.where(bound > 0, diff / np.where(bound > 0, bound, 1.0), np.inf))
    mutual = float(over.max())
    sizes = (first_step_error(first[0], ref.first[0]), first_step_error(first[1], ref.first[1]))
    return Verdict(drift, allowed, ref.envelope, whole_run, mutual, ref.seconds, sizes)


def describe(report: dict[str, Any], names: tuple[str, str]) -> str:
    """One line for nst parity's table, under a float32 training row: the envelope and each backend's drift."""
    a, b = report[names[0]], report[names[1]]
    where = "its largest over the run" if report["judged"] == "over the whole run" else "at each step"
    return (
        f"envelope {report['envelope']:.1e}; drift from its own float64 run: {names[0]} {a['drift']:.1e}, "
        f"{names[1]} {b['drift']:.1e}; allowed {report['multiple']:g}x the envelope ({where}, at least "
        f"{report['floor']:g}): worst {a['worst_drift_over_allowed']:.2f} and {b['worst_drift_over_allowed']:.2f} "
        f"of it; first step's size off by {a['first_step_size_error']:.1e} and {b['first_step_size_error']:.1e} "
        f"(at most {report['step_size_tolerance']:g})"
    )
