"""Loss curves as a PNG (matplotlib, imported only when a plot is asked for)."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.training import StepRecord
from .outputs import write_atomic


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


def plot_comparison(histories: dict[str, Sequence[dict]], path: str, title: str = "") -> None:
    """Several backends' loss curves overlaid in one plot: content, style, TV and total; one line style each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    colors = {"content": "tab:blue", "style": "tab:orange", "tv": "tab:green", "total": "black"}
    for (backend, history), line in zip(histories.items(), ("-", "--", ":"), strict=False):
        for key, color in colors.items():
            ax.plot(
                [r["step"] for r in history],
                [r[key] for r in history],
                line,
                color=color,
                lw=1.2,
                label=f"{key} ({backend})",
            )
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("weighted loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(ncol=2, fontsize=7)
    styles = ("solid", "dashed", "dotted")
    ax.set_title(title or " and ".join(f"{b} ({line})" for b, line in zip(histories, styles, strict=False)))
    fig.tight_layout()
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, format="png"), "plot")
    finally:
        plt.close(fig)
