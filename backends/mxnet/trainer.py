"""Training in MXNet: the synthesized image as a Gluon Block, gluon.Trainer with torch's Adam formula."""

from __future__ import annotations

import math
from collections.abc import Sequence

import mxnet as mx
from mxnet import autograd, gluon, nd
from mxnet.gluon import nn

from .. import common


class SynthesizedImage(nn.Block):
    """The documents' SynthesizedImage: its only parameter is the image; forward returns it."""

    def __init__(self, X: nd.NDArray) -> None:
        super().__init__()
        self.weight = self.params.get("weight", shape=X.shape, dtype=X.dtype, init=mx.init.Constant(X.copy()))
        self.initialize(ctx=X.context)

    def forward(self) -> nd.NDArray:
        """The image."""
        return self.weight.data()


class TorchAdam(mx.optimizer.Optimizer):
    """Adam exactly as torch.optim.Adam computes it, in the weight's own dtype.

    MXNet's built-in 'adam' differs in two ways: it folds bias correction into the learning rate, so epsilon
    is added to sqrt(v) before bias correction (a different update, largest in the first steps), and its fused
    kernel takes beta1/beta2/epsilon as float32, so a float64 run is not computed in float64.
    """

    def __init__(
        self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8, **kwargs
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def create_state(self, index, weight):
        """First and second moment estimates, zero."""
        return nd.zeros_like(weight), nd.zeros_like(weight)

    def update(self, index, weight, grad, state):
        """One Adam step on one parameter."""
        self._update_count(index)
        t = self._index_update_count[index]
        lr = self._get_lr(index)
        m, v = state
        g = grad * self.rescale_grad
        m[:] = m + (1 - self.beta1) * (g - m)
        v[:] = v * self.beta2 + (1 - self.beta2) * g * g
        denom = nd.sqrt(v) / math.sqrt(1 - self.beta2**t) + self.epsilon
        weight[:] = weight - (lr / (1 - self.beta1**t)) * m / denom


class Trainer:
    """gluon.Trainer with TorchAdam; the learning rate x factor every N steps via set_learning_rate (as d2l)."""

    def __init__(
        self,
        model: nn.Block,
        loss_fn,
        lr: float,
        decay_every: int,
        decay_factor: float,
        inputs: Sequence[nd.NDArray] = (),
    ) -> None:
        self.model, self.loss_fn, self.inputs = model, loss_fn, tuple(inputs)
        self.trainer = gluon.Trainer(model.collect_params(), TorchAdam(learning_rate=lr))
        self.decay_every, self.decay_factor = decay_every, decay_factor
        self.steps_done = 0
        self._last_finite: nd.NDArray | None = None

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step."""
        return float(self.trainer.learning_rate)

    def step(self) -> tuple[float, float, float, float]:
        """Forward under autograd.record, backward, trainer.step (nothing is updated on a non-finite loss)."""
        with autograd.record():
            X = self.model(*self.inputs)
            losses = self.loss_fn(X)
        values = tuple(float(v.asscalar()) for v in losses)
        if not common.training.is_finite(values):
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


def gradient(loss_fn, X: nd.NDArray) -> tuple[list[float], nd.NDArray]:
    """The losses at X and d total / d X."""
    X = X.copy()
    X.attach_grad()
    with autograd.record():
        losses = loss_fn(X)
    losses[-1].backward()
    return [float(v.asscalar()) for v in losses], X.grad.copy()
