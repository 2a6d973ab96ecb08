"""Training in torch: the synthesized image as an nn.Module, torch.optim with StepLR, one step at a time."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .. import core


class SynthesizedImage(nn.Module):
    """The documents' SynthesizedImage: its parameter is the image (with levels > 1, the full-size level of a
    pyramid, core/pyramid.py, the coarser levels being parameters too); forward returns the image."""

    def __init__(self, X: torch.Tensor, levels: int = 1) -> None:
        super().__init__()
        self.weight = nn.Parameter(X.detach().clone())
        h, w = X.shape[-2:]
        shapes = [core.pyramid.level_shape(h, w, k) for k in range(1, levels)]
        self.levels = nn.ParameterList(nn.Parameter(X.new_zeros(1, X.shape[1], *shape)) for shape in shapes)
        self.matrices = [
            (torch.as_tensor(A, dtype=X.dtype, device=X.device), torch.as_tensor(Bt, dtype=X.dtype, device=X.device))
            for A, Bt in core.pyramid.matrices(h, w, levels)
        ]

    def forward(self) -> torch.Tensor:
        """The image: the full-size level plus each coarser level upsampled (A @ P @ B^T)."""
        X = self.weight
        for P, (A, Bt) in zip(self.levels, self.matrices, strict=True):
            X = X + A @ (P @ Bt)
        return X

    @torch.no_grad()
    def clamp_(self, low: np.ndarray, high: np.ndarray) -> None:
        """Clamp the image in place between per-channel bounds of shape (1, 3, 1, 1) (a pyramid: its full-size
        level moved by what clamping changes)."""
        low_t, high_t = (torch.as_tensor(b, dtype=self.weight.dtype) for b in (low, high))
        if not self.levels:
            self.weight.clamp_(low_t, high_t)
            return
        X = self()
        self.weight.add_(X.clamp(low_t, high_t) - X)


OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


class Trainer:
    """torch.optim.Adam (or SGD) on a model's parameters, the learning rate x factor every N steps (StepLR)."""

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[torch.Tensor], Sequence[torch.Tensor]],
        lr: float,
        decay_every: int,
        decay_factor: float,
        inputs: Sequence[torch.Tensor] = (),
        optimizer: str = "adam",
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.model, self.loss_fn, self.inputs, self.bounds = model, loss_fn, tuple(inputs), bounds
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = OPTIMIZERS[optimizer](self.params, lr=lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, decay_every, decay_factor)
        self._last_finite: torch.Tensor | None = None

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step."""
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self) -> tuple[float, float, float, float]:
        """zero_grad, forward, backward, optimizer step, scheduler step (nothing is updated on a non-finite loss)."""
        if self.bounds is not None:
            self.model.clamp_(*self.bounds)
        self.optimizer.zero_grad()
        X = self.model(*self.inputs)
        losses = self.loss_fn(X)
        values = tuple(v.item() for v in losses)
        if not core.training.is_finite(values):
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

    def state(self) -> dict[str, np.ndarray]:
        """Parameters as numpy arrays, and the optimizer and scheduler as torch.save bytes."""
        buffer = io.BytesIO()
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}, buffer)
        state = {f"param.{i}": p.detach().cpu().numpy().copy() for i, p in enumerate(self.params)}
        state["framework_state"] = np.frombuffer(buffer.getvalue(), dtype=np.uint8)
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what state() returned."""
        with torch.no_grad():
            for i, p in enumerate(self.params):
                p.copy_(torch.from_numpy(state[f"param.{i}"]))
        saved = torch.load(io.BytesIO(state["framework_state"].tobytes()), weights_only=True)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])


def gradient(
    loss_fn: Callable[[torch.Tensor], Sequence[torch.Tensor]], X: torch.Tensor
) -> tuple[list[float], torch.Tensor]:
    """The losses at X and d total / d X."""
    X = X.detach().clone().requires_grad_(True)
    losses = loss_fn(X)
    losses[-1].backward()
    return [v.item() for v in losses], X.grad.detach()
