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
error enters mainly through the backward pass, which parameter noise reaches only some steps later (README).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.training import StepLosses, Trainer

NOISE = 2.0**-24  # float32's unit roundoff: one rounding of a float32 number changes it by up to this, relative
SEEDS = 4
MULTIPLE = 4.0
# Never less than this, relative: in the first steps, before the envelope has grown, float32 rounding of the first
# gradient moves some first updates (Adam moves a pixel by about lr whatever its gradient, and where the gradient is
# near epsilon 1e-8 by an amount its last digits decide), which noise added after the step cannot: measured up to
# 3.5e-6 at step 2 (README); a loss is evaluated to about 1e-7.
FLOOR = 1e-5
Wrap = Callable[[Trainer], Any]
Run = Callable[[Wrap | None], np.ndarray]  # a wrapper for the run's trainer (or None) -> losses, shape (steps, 4)


class NoisyTrainer:
    """A trainer whose parameters are multiplied by (1 + noise N(0, 1)) after every step, seeded.

    Not before the first: a run starts from numbers it holds exactly in its own dtype (the content-initialized
    image is its own content target, so its content loss and gradient are exactly 0 in float32 as in float64);
    rounding begins with the first update. Perturbing the start too made the content row's envelope 15x wider
    than any float32 run's drift (measured).
    """

    def __init__(self, trainer: Trainer, seed: int, noise: float = NOISE) -> None:
        self.trainer, self.noise = trainer, noise
        self.rng = np.random.default_rng([seed, 24])

    def step(self) -> StepLosses:
        """The wrapped trainer's step, then the perturbation of its parameters."""
        losses = self.trainer.step()
        state = self.trainer.state()
        for key in sorted(k for k in state if k.startswith("param.")):
            value = state[key]
            state[key] = (value * (1 + self.noise * self.rng.standard_normal(value.shape))).astype(value.dtype)
        self.trainer.load_state(state)
        return losses

    @property
    def learning_rate(self) -> float:
        """The wrapped trainer's learning rate."""
        return self.trainer.learning_rate

    def image(self) -> Any:
        """The wrapped trainer's image."""
        return self.trainer.image()


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

    def allowed(self, whole_run: bool) -> np.ndarray:
        """Per step, how far (relative) a float32 run may be from its backend's clean float64 run."""
        envelope = np.full_like(self.envelope, self.envelope.max()) if whole_run else self.envelope
        return np.maximum(MULTIPLE * envelope, FLOOR)


def measure(run_a: Run, run_b: Run, seeds: int = SEEDS) -> Reference:
    """The clean float64 runs and the envelope of seeded float32-sized noise, seeds alternating between backends."""
    start = time.perf_counter()
    runs = (run_a, run_b)
    clean = (run_a(None), run_b(None))
    spread = np.zeros(len(clean[0]))
    for seed in range(seeds):
        k = seed % 2
        noisy = runs[k](lambda trainer, s=seed: NoisyTrainer(trainer, s))
        spread = np.maximum(spread, per_step_rel(noisy, clean[k]))
    return Reference(clean, np.maximum.accumulate(spread), time.perf_counter() - start)


@dataclass(frozen=True)
class Verdict:
    """Each backend's float32 drift from its own float64 run, per step, against what it is allowed."""

    drift: tuple[np.ndarray, np.ndarray]
    allowed: np.ndarray
    envelope: np.ndarray
    whole_run: bool
    mutual: float  # the float32 runs' largest difference over the sum of their allowances and the float64 runs'
    seconds: float = 0.0  # wall time of the float64 runs (2 clean, SEEDS noisy)

    @property
    def ratios(self) -> tuple[float, float]:
        """Each backend's worst drift over its allowance (above 1: FAIL)."""
        return float((self.drift[0] / self.allowed).max()), float((self.drift[1] / self.allowed).max())

    @property
    def passed(self) -> bool:
        """Both drifts within their allowance at every step (then the two runs are within the sum of theirs)."""
        return max(self.ratios) <= 1.0

    def as_dict(self, names: tuple[str, str]) -> dict[str, Any]:
        """The numbers nst parity reports beside the row: the envelope, each drift and the allowance per step."""
        out: dict[str, Any] = {
            "noise": NOISE,
            "seeds": SEEDS,
            "multiple": MULTIPLE,
            "floor": FLOOR,
            "judged": "over the whole run" if self.whole_run else "at every step",
            "envelope": float(self.envelope.max()),
            "envelope_per_step": self.envelope.tolist(),
            "allowed_per_step": self.allowed.tolist(),
            "a_minus_b_over_bound": self.mutual,
            "float64_runs_seconds": self.seconds,
        }
        for name, drift, ratio in zip(names, self.drift, self.ratios, strict=True):
            out[name] = {"drift": float(drift.max()), "worst_drift_over_allowed": ratio, "per_step": drift.tolist()}
        return out


def judge(ha: np.ndarray, hb: np.ndarray, ref: Reference, whole_run: bool = False) -> Verdict:
    """Hold two float32 runs (losses per step) to their backends' float64 runs and the envelope."""
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
    return Verdict(drift, allowed, ref.envelope, whole_run, mutual, ref.seconds)


def describe(report: dict[str, Any], names: tuple[str, str]) -> str:
    """One line for nst parity's table, under a float32 training row: the envelope and each backend's drift."""
    a, b = report[names[0]], report[names[1]]
    where = "its largest over the run" if report["judged"] == "over the whole run" else "at each step"
    return (
        f"envelope {report['envelope']:.1e}; drift from its own float64 run: {names[0]} {a['drift']:.1e}, "
        f"{names[1]} {b['drift']:.1e}; allowed {report['multiple']:g}x the envelope ({where}, at least "
        f"{report['floor']:g}): worst {a['worst_drift_over_allowed']:.2f} and {b['worst_drift_over_allowed']:.2f} of it"
    )
