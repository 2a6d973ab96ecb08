"""The optimization loop, framework-free: steps a backend's Trainer, records each step, watches for trouble."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from . import allocator

LOSS_NAMES = ("content", "style", "tv", "total")
StepLosses = tuple[float, float, float, float]  # content, style, tv, total (each already weighted)


class Trainer(Protocol):
    """Optimizes a model's parameters one step at a time (Adam with step learning-rate decay)."""

    def step(self) -> StepLosses:
        """Evaluate the losses of the current image and, if they are finite, update the parameters once."""

    @property
    def learning_rate(self) -> float:
        """The learning rate the next step will use."""

    def image(self) -> Any:
        """The image the model produces now (a framework tensor, no gradient recorded)."""

    def last_finite_image(self) -> Any | None:
        """The most recent image whose losses were finite, or None before the first step."""

    def state(self) -> dict[str, np.ndarray]:
        """Everything a checkpoint needs to continue exactly: parameters and optimizer state, as numpy arrays."""

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Continue from what state() returned."""


@dataclass(frozen=True)
class StepRecord:
    """What one step recorded: the losses of the image it started from, its learning rate and wall time."""

    step: int
    content: float
    style: float
    tv: float
    total: float
    lr: float
    seconds: float
    stage: int = 1

    def as_dict(self) -> dict[str, float]:
        """The record as the run record's JSON object."""
        return asdict(self)


def is_finite(losses: StepLosses) -> bool:
    """Whether every loss is a finite number (a trainer updates nothing otherwise)."""
    return all(math.isfinite(v) for v in losses)


@dataclass
class Outcome:
    """How a loop ended: 'completed', 'interrupted' or 'diverged', with every step it recorded."""

    status: str
    history: list[StepRecord]


def optimize(
    trainer: Trainer,
    steps: int,
    *,
    first_step: int = 1,
    stage: int = 1,
    progress: bool = False,
    description: str = "",
    on_step: Callable[[StepRecord], None] | None = None,
    stop_requested: Callable[[], bool] | None = None,
) -> Outcome:
    """Run ``steps`` trainer steps; stop early on a non-finite loss ('diverged') or when asked ('interrupted',
    checked before each step, so a request made before the first one runs none)."""
    history: list[StepRecord] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, file=sys.stderr, unit="step", dynamic_ncols=True, leave=False, desc=description or None)
    with allocator.kept_memory():  # a step's large tensors reused, not mapped anew (9% of a torch step)
        try:
            for k in range(first_step, first_step + steps):
                if stop_requested is not None and stop_requested():
                    return Outcome("interrupted", history)
                lr = trainer.learning_rate
                start = time.perf_counter()
                losses = trainer.step()
                record = StepRecord(k, *losses, lr=lr, seconds=time.perf_counter() - start, stage=stage)
                history.append(record)
                if bar is not None:
                    bar.set_postfix(content=f"{losses[0]:.3g}", style=f"{losses[1]:.3g}", tv=f"{losses[2]:.3g}")
                    bar.update()
                if not is_finite(losses):
                    return Outcome("diverged", history)
                if on_step is not None:
                    on_step(record)
            return Outcome("completed", history)
        finally:
            if bar is not None:
                bar.close()
