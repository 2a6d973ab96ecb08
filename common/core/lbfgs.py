"""L-BFGS for both backends, in numpy, driven through a backend's loss and gradient.

MXNet has no L-BFGS; torch has torch.optim.LBFGS. This one computes what torch.optim.LBFGS does without a line
search (lr-scaled steps along the two-loop-recursion direction, history of 100 pairs, the first step scaled by
min(1, 1 / |g|_1)), one iteration per step(), so both backends run the same optimizer and torch users get what
they know (tests/test_lbfgs.py holds it to torch.optim.LBFGS). The arithmetic is numpy in the run's dtype.
"""

from __future__ import annotations

import numpy as np

from .interface import Backend, LossFn, Tensor
from .training import StepLosses, is_finite


class LBFGS:
    """The optimizer: feed it the gradient at the current point, get the next point."""

    def __init__(
        self, lr: float = 1.0, history_size: int = 100, tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9
    ) -> None:
        self.lr, self.history_size = lr, history_size
        self.tolerance_grad, self.tolerance_change = tolerance_grad, tolerance_change
        self.n_iter = 0
        self.d: np.ndarray | None = None
        self.t = 0.0
        self.prev_grad: np.ndarray | None = None
        self.old_dirs: list[np.ndarray] = []
        self.old_stps: list[np.ndarray] = []
        self.ro: list[float] = []
        self.H_diag = 1.0

    def step(self, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The next point from x and the gradient at x (x itself when converged or not descending)."""
        g = grad.ravel()
        if np.abs(g).max() <= self.tolerance_grad:
            return x
        self.n_iter += 1
        if self.n_iter == 1:
            d = -g
            self.old_dirs, self.old_stps, self.ro, self.H_diag = [], [], [], 1.0
        else:
            y = g - self.prev_grad
            s = self.d * self.t
            ys = float(y.dot(s))
            if ys > 1e-10:
                if len(self.old_dirs) == self.history_size:
                    self.old_dirs.pop(0), self.old_stps.pop(0), self.ro.pop(0)
                self.old_dirs.append(y)
                self.old_stps.append(s)
                self.ro.append(1.0 / ys)
                self.H_diag = ys / float(y.dot(y))
            q = -g
            al = [0.0] * len(self.old_dirs)
            for i in range(len(self.old_dirs) - 1, -1, -1):
                al[i] = float(self.old_stps[i].dot(q)) * self.ro[i]
                q = q - al[i] * self.old_dirs[i]
            d = q * self.H_diag
            for i in range(len(self.old_dirs)):
                be_i = float(self.old_dirs[i].dot(d)) * self.ro[i]
                d = d + (al[i] - be_i) * self.old_stps[i]
        d = d.astype(g.dtype, copy=False)
        self.prev_grad = g.copy()
        self.t = min(1.0, 1.0 / float(np.abs(g).sum())) * self.lr if self.n_iter == 1 else self.lr
        self.d = d
        if float(g.dot(d)) > -self.tolerance_change:
            return x
        return (x.ravel() + (self.t * d).astype(x.dtype)).reshape(x.shape)

    def state(self) -> dict[str, np.ndarray]:
        """Everything needed to continue, as numpy arrays."""
        out = {
            "n_iter": np.array(self.n_iter),
            "t": np.array(self.t),
            "H_diag": np.array(self.H_diag),
            "lr": np.array(self.lr),
            "ro": np.array(self.ro),
        }
        if self.d is not None:
            out["d"], out["prev_grad"] = self.d, self.prev_grad
        if self.old_dirs:
            out["old_dirs"], out["old_stps"] = np.stack(self.old_dirs), np.stack(self.old_stps)
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what state() returned."""
        self.n_iter, self.t, self.H_diag = int(state["n_iter"]), float(state["t"]), float(state["H_diag"])
        self.lr, self.ro = float(state["lr"]), [float(r) for r in state["ro"]]
        self.d, self.prev_grad = state.get("d"), state.get("prev_grad")
        self.old_dirs = list(state["old_dirs"]) if "old_dirs" in state else []
        self.old_stps = list(state["old_stps"]) if "old_stps" in state else []


class LBFGSTrainer:
    """The Trainer protocol over LBFGS: the image is a numpy array; each step evaluates the backend once."""

    def __init__(
        self,
        ops: Backend,
        X: Tensor,
        loss_fn: LossFn,
        lr: float,
        decay_every: int,
        decay_factor: float,
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.ops, self.loss_fn, self.bounds = ops, loss_fn, bounds
        self.x = ops.to_numpy(X)
        self.optimizer = LBFGS(lr)
        self.decay_every, self.decay_factor = decay_every, decay_factor
        self.steps_done = 0
        self._last_finite: np.ndarray | None = None

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step."""
        return self.optimizer.lr

    def step(self) -> StepLosses:
        """Losses and gradient at the current image, then one L-BFGS update (none on a non-finite loss)."""
        if self.bounds is not None:
            self.x = np.clip(self.x, *self.bounds).astype(self.x.dtype)
        losses, grad = self.ops.gradient(self.loss_fn, self.ops.asarray(self.x))
        values = tuple(float(v) for v in losses)
        if not is_finite(values):
            return values
        self._last_finite = self.x.copy()
        self.x = self.optimizer.step(self.x, self.ops.to_numpy(grad))
        self.steps_done += 1
        if self.steps_done % self.decay_every == 0:
            self.optimizer.lr *= self.decay_factor
        return values

    def image(self) -> Tensor:
        """The current image."""
        return self.ops.asarray(self.x)

    def last_finite_image(self) -> Tensor | None:
        """The last image whose losses were finite."""
        return None if self._last_finite is None else self.ops.asarray(self._last_finite)

    def state(self) -> dict[str, np.ndarray]:
        """The image and the optimizer's state."""
        return {
            "param.0": self.x,
            "steps_done": np.array(self.steps_done),
            **{f"lbfgs.{k}": v for k, v in self.optimizer.state().items()},
        }

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what state() returned."""
        self.x = state["param.0"].copy()
        self.steps_done = int(state["steps_done"])
        self.optimizer.load_state({k.removeprefix("lbfgs."): v for k, v in state.items() if k.startswith("lbfgs.")})
