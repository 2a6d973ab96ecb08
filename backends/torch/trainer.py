"""Training in torch: the synthesized image as an nn.Module, torch.optim.Adam with StepLR, one step at a time."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import common


class SynthesizedImage(nn.Module):
    """The documents' SynthesizedImage: its only parameter is the image; forward returns it."""

    def __init__(self, X: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(X.detach().clone())

    def forward(self) -> torch.Tensor:
        """The image."""
        return self.weight


class Trainer:
    """Adam on a model's parameters with the learning rate x factor every N steps (StepLR)."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn,
        lr: float,
        decay_every: int,
        decay_factor: float,
        inputs: Sequence[torch.Tensor] = (),
    ) -> None:
        self.model, self.loss_fn, self.inputs = model, loss_fn, tuple(inputs)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, decay_every, decay_factor)
        self._last_finite: torch.Tensor | None = None

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step."""
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self) -> tuple[float, float, float, float]:
        """zero_grad, forward, backward, optimizer step, scheduler step (nothing is updated on a non-finite loss)."""
        self.optimizer.zero_grad()
        X = self.model(*self.inputs)
        losses = self.loss_fn(X)
        values = tuple(v.item() for v in losses)
        if not common.training.is_finite(values):
            return values
        self._last_finite = X.detach().clone()
        losses[-1].backward()
        self.optimizer.step()
        self.scheduler.step()
        return values

    def image(self) -> torch.Tensor:
        """The current image."""
        with torch.no_grad():
            return self.model(*self.inputs).detach().clone()

    def last_finite_image(self) -> torch.Tensor | None:
        """The last image whose losses were finite."""
        return self._last_finite


def gradient(loss_fn, X: torch.Tensor) -> tuple[list[float], torch.Tensor]:
    """The losses at X and d total / d X."""
    X = X.detach().clone().requires_grad_(True)
    losses = loss_fn(X)
    losses[-1].backward()
    return [v.item() for v in losses], X.grad.detach()
