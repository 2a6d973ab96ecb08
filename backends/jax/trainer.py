"""Training in JAX: the model is parameters plus a pure function of them; one jitted step computes the losses, their
gradient (jax.value_and_grad) and the optimizer.s update from the old state to a new one."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import core

Params = Any  # a pytree of arrays (a dict of them here)
KINDS = ("adam", "sgd")
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults


def init(kind: str, params: Params) -> dict:
    """The optimizer's state for parameters: Adam's two moments (zeros like each parameter); SGD has none."""
    if kind == "sgd":
        return {}
    return {"m": jax.tree_util.tree_map(jnp.zeros_like, params), "v": jax.tree_util.tree_map(jnp.zeros_like, params)}


def hyper(kind: str, lr: float, t: int) -> np.ndarray:
    """Step t's scalars as Python floats compute them (torch's arithmetic), as float64: Adam's lr / (1 - beta1^t)
    and sqrt(1 - beta2^t); SGD's lr."""
    if kind == "sgd":
        return np.array([lr], np.float64)
    return np.array([lr / (1 - BETA1**t), (1 - BETA2**t) ** 0.5], np.float64)


def sgd(params: Params, grads: Params, scalars: jax.Array) -> Params:
    """New parameters after one step of torch.optim.SGD (no momentum): p - lr g, in each parameter's dtype."""
    return jax.tree_util.tree_map(lambda p, g: p + (-scalars[0]).astype(p.dtype) * g, params, grads)


def adam(params: Params, grads: Params, state: dict, scalars: jax.Array) -> tuple[Params, dict]:
    """(new parameters, new moments) after one step of torch.optim.Adam, in each parameter's dtype."""

    def one(p: jax.Array, g: jax.Array, m: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        step_size, bias_correction2_sqrt = scalars[0].astype(p.dtype), scalars[1].astype(p.dtype)
        m = m + (1 - BETA1) * (g - m)  # torch's exp_avg.lerp_(grad, 1 - beta1)
        v = v * BETA2 + (1 - BETA2) * g * g
        denom = jnp.sqrt(v) / bias_correction2_sqrt + EPSILON
        return p + (-step_size) * (m / denom), m, v

    out = jax.tree_util.tree_map(one, params, grads, state["m"], state["v"])
    new = [jax.tree_util.tree_map(lambda o, i=i: o[i], out, is_leaf=lambda o: isinstance(o, tuple)) for i in range(3)]
    return new[0], {"m": new[1], "v": new[2]}


def update(kind: str, params: Params, grads: Params, state: dict, scalars: jax.Array) -> tuple[Params, dict]:
    """(new parameters, new state): one step of the optimizer ``kind``."""
    return (sgd(params, grads, scalars), state) if kind == "sgd" else adam(params, grads, state, scalars)


def to_numpy(state: dict, t: int) -> dict[str, np.ndarray]:
    """The optimizer's state as numpy arrays: the step count and each moment of each parameter."""
    out = {"t": np.array(t)}
    for name, tree in state.items():
        out.update({f"{name}.{i}": np.array(a) for i, a in enumerate(jax.tree_util.tree_leaves(tree))})
    return out


def from_numpy(saved: dict[str, np.ndarray], params: Params) -> tuple[dict, int]:
    """(the state, the step count) that to_numpy wrote, shaped like ``params``."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    state = {}
    for name in ("m", "v"):
        if f"{name}.0" in saved:
            moments = [jnp.asarray(saved[f"{name}.{i}"], p.dtype) for i, p in enumerate(leaves)]
            state[name] = jax.tree_util.tree_unflatten(treedef, moments)
    return state, int(saved["t"])


class SynthesizedImage:
    """The documents' SynthesizedImage: its parameter is the image (with levels > 1, the full-size level of a
    pyramid, core/pyramid.py, the coarser levels being parameters too); applied, it returns the image."""

    def __init__(self, X: jax.Array, levels: int = 1) -> None:
        h, w = X.shape[-2:]
        self.params = {"weight": jnp.array(X, copy=True)}
        for k in range(1, levels):
            self.params[f"weight_level{k}"] = jnp.zeros((1, X.shape[1], *core.pyramid.level_shape(h, w, k)), X.dtype)
        self.matrices = [
            (jnp.asarray(A, X.dtype), jnp.asarray(Bt, X.dtype)) for A, Bt in core.pyramid.matrices(h, w, levels)
        ]

    def apply(self, params: dict[str, jax.Array]) -> jax.Array:
        """The image the parameters hold: the full-size level plus each coarser level upsampled (A @ P @ B^T)."""
        X = params["weight"]
        for k, (A, Bt) in enumerate(self.matrices, 1):
            X = X + A @ (params[f"weight_level{k}"] @ Bt)
        return X

    def __call__(self) -> jax.Array:
        """The image."""
        return self.apply(self.params)

    def clamp_(self, low: np.ndarray, high: np.ndarray) -> None:
        """Replace the image by itself clamped between per-channel bounds of shape (1, 3, 1, 1) (a pyramid: its
        full-size level moved by what clamping changes)."""
        W, X = self.params["weight"], self()
        clamped = jnp.clip(X, jnp.asarray(low, X.dtype), jnp.asarray(high, X.dtype))
        self.params = {**self.params, "weight": clamped if not self.matrices else W + (clamped - X)}


class Program:
    """A traced function (a jaxpr) without its constants, equal to another with the same text: jit compiles each
    program once per shape however many trainers run it (the constants, e.g. VGG's weights, are arguments)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        closed = jax.make_jaxpr(fn)(*args)
        self.jaxpr, self.consts = closed.jaxpr, list(closed.consts)
        self.key = str(self.jaxpr)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Program) and self.key == other.key

    def __call__(self, consts: list, *args: Any) -> list:
        """The program's outputs for its constants and the arguments."""
        return jax.core.eval_jaxpr(self.jaxpr, consts, *jax.tree_util.tree_leaves(args))


@functools.partial(jax.jit, static_argnames=("program", "kind"))
def train_step(
    program: Program, kind: str, consts: list, params: Params, state: dict, hyper: jax.Array, inputs: tuple
) -> tuple[list, jax.Array, Params, dict]:
    """(losses, the image, new parameters, new optimizer state): one pure step from the old ones."""

    def total(params: Params) -> tuple[jax.Array, tuple[list, jax.Array]]:
        X, *losses = program(consts, params, inputs)
        return losses[-1], (losses, X)

    (_, (losses, X)), grads = jax.value_and_grad(total, has_aux=True)(params)
    new_params, new_state = update(kind, params, grads, state, hyper)
    return losses, X, new_params, new_state


class Trainer:
    """Adam or SGD as torch.optim computes them on a model's parameters, the learning rate x factor every N steps."""

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[jax.Array], Sequence[jax.Array]],
        lr: float,
        decay_every: int,
        decay_factor: float,
        inputs: Sequence[jax.Array] = (),
        optimizer: str = "adam",
        bounds: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if optimizer not in KINDS:
            raise ValueError(f"optimizer must be one of {KINDS}, not {optimizer!r}")
        self.model, self.inputs, self.bounds, self.kind = model, tuple(inputs), bounds, optimizer
        self.lr, self.decay_every, self.decay_factor = float(lr), decay_every, decay_factor
        self.opt_state, self.t = init(optimizer, model.params), 0
        self.steps_done = 0

        def image_and_losses(params: Params, inputs: tuple) -> tuple[jax.Array, ...]:
            X = model.apply(params, *inputs)
            return (X, *loss_fn(X))

        self.program = Program(image_and_losses, model.params, self.inputs)
        self._last_finite: jax.Array | None = None

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step."""
        return self.lr

    def step(self) -> tuple[float, float, float, float]:
        """Clamp (with bounds), then one jitted step; its new state is kept only if the losses are finite."""
        if self.bounds is not None:
            self.model.clamp_(*self.bounds)
        program, scalars = self.program, hyper(self.kind, self.lr, self.t + 1)
        losses, X, params, state = train_step(
            program, self.kind, program.consts, self.model.params, self.opt_state, scalars, self.inputs
        )
        values = tuple(float(v) for v in losses)
        if not core.training.is_finite(values):
            return values
        self._last_finite = X
        self.model.params, self.opt_state, self.t = params, state, self.t + 1
        self.steps_done += 1
        if self.steps_done % self.decay_every == 0:
            self.lr *= self.decay_factor
        return values

    def image(self) -> jax.Array:
        """The current image."""
        return self.model.apply(self.model.params, *self.inputs)

    def last_finite_image(self) -> jax.Array | None:
        """The last image whose losses were finite."""
        return self._last_finite

    def state(self) -> dict[str, np.ndarray]:
        """Parameters, optimizer state, learning rate and step count as numpy arrays."""
        leaves = jax.tree_util.tree_leaves(self.model.params)
        state = {f"param.{i}": np.array(p) for i, p in enumerate(leaves)}
        state.update({f"optimizer.{k}": v for k, v in to_numpy(self.opt_state, self.t).items()})
        state["lr"], state["steps_done"] = np.array(self.lr), np.array(self.steps_done)
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what state() returned."""
        leaves, treedef = jax.tree_util.tree_flatten(self.model.params)
        restored = [jnp.asarray(state[f"param.{i}"], p.dtype) for i, p in enumerate(leaves)]
        self.model.params = jax.tree_util.tree_unflatten(treedef, restored)
        saved = {k.removeprefix("optimizer."): v for k, v in state.items() if k.startswith("optimizer.")}
        self.opt_state, self.t = from_numpy(saved, self.model.params)
        self.lr, self.steps_done = float(state["lr"]), int(state["steps_done"])


@functools.partial(jax.jit, static_argnames=("program",))
def _gradient(program: Program, consts: list, X: jax.Array) -> tuple[list, jax.Array]:
    def total(X: jax.Array) -> tuple[jax.Array, list]:
        losses = program(consts, X)
        return losses[-1], losses

    (_, losses), grad = jax.value_and_grad(total, has_aux=True)(X)
    return losses, grad


def gradient(loss_fn: Callable[[jax.Array], Sequence[jax.Array]], X: jax.Array) -> tuple[list[float], jax.Array]:
    """The losses at X and d total / d X (jitted, compiled once per program and shape)."""
    program = Program(lambda X: tuple(loss_fn(X)), X)
    losses, grad = _gradient(program, program.consts, X)
    return [float(v) for v in losses], grad
