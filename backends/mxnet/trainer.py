"""Training in MXNet: the synthesized image as a Gluon Block, gluon.Trainer with torch's Adam and SGD formulas."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, nd
from mxnet.gluon import nn

from .. import core


class SynthesizedImage(nn.Block):
    """The documents' SynthesizedImage: its parameter is the image (with levels > 1, the full-size level of a
    pyramid, core/pyramid.py, the coarser levels being parameters too); forward returns the image."""

    def __init__(self, X: nd.NDArray, levels: int = 1) -> None:
        super().__init__()
        self.weight = self.params.get("weight", shape=X.shape, dtype=X.dtype, init=mx.init.Constant(X.copy()))
        h, w, level_shape = *X.shape[-2:], core.pyramid.level_shape
        self.levels = [
            self.params.get(f"level{k}", shape=(1, X.shape[1], *level_shape(h, w, k)), dtype=X.dtype, init="zeros")
            for k in range(1, levels)
        ]
        self.matrices = [
            (nd.array(A, ctx=X.context, dtype=X.dtype), nd.array(Bt, ctx=X.context, dtype=X.dtype))
            for A, Bt in core.pyramid.matrices(h, w, levels)
        ]
        self.initialize(ctx=X.context)

    def forward(self) -> nd.NDArray:
        """The image: the full-size level plus each coarser level upsampled (A @ P @ B^T)."""
        X = self.weight.data()
        for P, (A, Bt) in zip(self.levels, self.matrices, strict=True):
            rows = nd.dot(P.data(), Bt)  # (1, c, hk, w)
            X = X + nd.dot(A, rows.transpose((2, 0, 1, 3))).transpose((1, 2, 0, 3))
        return X

    def clamp_(self, low: np.ndarray, high: np.ndarray) -> None:
        """Clamp the image in place between per-channel bounds of shape (1, 3, 1, 1) (a pyramid: its full-size
        level moved by what clamping changes)."""
        W = self.weight.data()
        low_nd, high_nd = (nd.array(b, ctx=W.context, dtype=W.dtype) for b in (low, high))
        X = self.forward()
        clamped = nd.broadcast_minimum(nd.broadcast_maximum(X, low_nd), high_nd)
        W[:] = clamped if not self.levels else W + (clamped - X)


class TorchOptimizer(mx.optimizer.Optimizer):
    """An optimizer that computes exactly what its torch.optim namesake does, in the weight's own dtype.

    MXNet's fused kernels ('adam_update', 'sgd_update') take their hyper-parameters as float32, so a float64 run
    is not float64 arithmetic. These keep their state themselves (not in Gluon's Updater), so that state_dict()
    can put it into a checkpoint as plain arrays, as torch optimizers do.
    """

    def __init__(self, learning_rate: float, **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.moments: dict[int, list[nd.NDArray]] = {}

    def create_state(self, index: int, weight: nd.NDArray) -> None:
        """No Updater state: the moments live in self.moments."""
        return None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Step counts and moments as numpy arrays."""
        out = {f"t.{i}": np.array(t) for i, t in self._index_update_count.items()}
        for i, moments in self.moments.items():
            out.update({f"moment{k}.{i}": m.asnumpy() for k, m in enumerate(moments)})
        return out

    def load_state_dict(self, state: dict[str, np.ndarray], ctx: mx.Context) -> None:
        """Restore what state_dict() returned (replacing any moments this optimizer already holds)."""
        self.moments = {}
        for key, value in state.items():
            name, _, index = key.partition(".")
            if name == "t":
                self._index_update_count[int(index)] = int(value)
                self.num_update = max(self.num_update, int(value))
            else:
                moments = self.moments.setdefault(int(index), [])
                moments.append(nd.array(value, ctx=ctx, dtype=value.dtype))


class TorchAdam(TorchOptimizer):
    """Adam as torch.optim.Adam computes it.

    MXNet's built-in 'adam' folds bias correction into the learning rate, so its epsilon is added to sqrt(v)
    before bias correction: a different update, largest in the first steps.
    """

    def __init__(self, learning_rate: float, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__(learning_rate)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def update(self, index: int, weight: nd.NDArray, grad: nd.NDArray, state: Any) -> None:
        """One Adam step on one parameter."""
        self._update_count(index)
        t = self._index_update_count[index]
        lr = self._get_lr(index)
        m, v = self.moments.setdefault(index, [nd.zeros_like(weight), nd.zeros_like(weight)])
        g = grad * self.rescale_grad
        m[:] = m + (1 - self.beta1) * (g - m)
        v[:] = v * self.beta2 + (1 - self.beta2) * g * g
        denom = nd.sqrt(v) / math.sqrt(1 - self.beta2**t) + self.epsilon
        weight[:] = weight - (lr / (1 - self.beta1**t)) * m / denom


class TorchSGD(TorchOptimizer):
    """Plain SGD as torch.optim.SGD computes it (no momentum, no weight decay)."""

    def update(self, index: int, weight: nd.NDArray, grad: nd.NDArray, state: Any) -> None:
        """One SGD step on one parameter."""
        self._update_count(index)
        weight[:] = weight - self._get_lr(index) * (grad * self.rescale_grad)


OPTIMIZERS = {"adam": TorchAdam, "sgd": TorchSGD}


class Trainer:
    """gluon.Trainer with the project's optimizers; the learning rate x factor every N steps (as d2l does)."""

    def __init__(
        self,
        model: nn.Block,
        loss_fn: Callable[[nd.NDArray], Sequence[nd.NDArray]],
        lr: float,
        decay_every: int,
        decay_factor: float,
        inputs: Sequence[nd.NDArray] = (),
        optimizer: str = "adam",
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.model, self.loss_fn, self.inputs, self.bounds = model, loss_fn, tuple(inputs), bounds
        self.params = [p for p in model.collect_params().values() if p.grad_req != "null"]
        self.optimizer = OPTIMIZERS[optimizer](lr)
        self.trainer = gluon.Trainer(self.params, self.optimizer)
        self.decay_every, self.decay_factor = decay_every, decay_factor
        self.steps_done = 0
        self._last_finite: nd.NDArray | None = None

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step."""
        return float(self.trainer.learning_rate)

    def step(self) -> tuple[float, float, float, float]:
        """Forward under autograd.record, backward, trainer.step (nothing is updated on a non-finite loss)."""
        if self.bounds is not None:
            self.model.clamp_(*self.bounds)
        with autograd.record():
            X = self.model(*self.inputs)
            losses = self.loss_fn(X)
        values = tuple(float(v.asscalar()) for v in losses)
        if not core.training.is_finite(values):
            return values
        self._last_finite = X.copy()
        losses[-1].backward()
        self.trainer.step(1)
        self.steps_done += 1
        if self.steps_done % self.decay_every == 0:
            self.trainer.set_learning_rate(self.trainer.learning_rate * self.decay_factor)
        return values

    def image(self) -> nd.NDArray:
        """The current image."""
        return self.model(*self.inputs).copy()

    def last_finite_image(self) -> nd.NDArray | None:
        """The last image whose losses were finite."""
        return self._last_finite

    def state(self) -> dict[str, np.ndarray]:
        """Parameters, optimizer state, learning rate and step count as numpy arrays."""
        state = {f"param.{i}": p.data().asnumpy() for i, p in enumerate(self.params)}
        state.update({f"optimizer.{k}": v for k, v in self.optimizer.state_dict().items()})
        state["lr"], state["steps_done"] = np.array(self.learning_rate), np.array(self.steps_done)
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what state() returned."""
        for i, p in enumerate(self.params):
            p.set_data(nd.array(state[f"param.{i}"], ctx=p.list_ctx()[0], dtype=p.dtype))
        ctx = self.params[0].list_ctx()[0]
        optimizer = {k.removeprefix("optimizer."): v for k, v in state.items() if k.startswith("optimizer.")}
        self.optimizer.load_state_dict(optimizer, ctx)
        self.trainer.set_learning_rate(float(state["lr"]))
        self.steps_done = int(state["steps_done"])


def gradient(loss_fn: Callable[[nd.NDArray], Sequence[nd.NDArray]], X: nd.NDArray) -> tuple[list[float], nd.NDArray]:
    """The losses at X and d total / d X."""
    X = X.copy()
    X.attach_grad()
    with autograd.record():
        losses = loss_fn(X)
    losses[-1].backward()
    return [float(v.asscalar()) for v in losses], X.grad.copy()
