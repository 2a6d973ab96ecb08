"""Loss curves as a PNG (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

from collections.abc import Sequence

from .outputs import write_atomic
from .training import StepRecord


def plot_losses(history: Sequence[StepRecord], path: str, title: str = "") -> None:
    """Draw content, style and TV loss (and their total) over the steps, log scale, to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    steps = [r.step for r in history]
    for name in ("content", "style", "tv", "total"):
        values = [getattr(r, name) for r in history]
        ax.plot(steps, values, label=name, linewidth=2.0 if name == "total" else 1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("weighted loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, format="png"), "plot")
    finally:
        plt.close(fig)
