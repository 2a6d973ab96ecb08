"""Arrays in and out of JAX, and the image <-> tensor conversions."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from .. import core

MEAN = core.reference.IMAGENET_MEAN
STD = core.reference.IMAGENET_STD


def device(spec: str) -> jax.Device:
    """The CPU or GPU N if this jaxlib can use it, else UserError saying what is there."""
    if spec == "cpu":
        return jax.devices("cpu")[0]
    if spec == "cuda" or spec.startswith("cuda:"):
        index = spec.partition(":")[2] or "0"
        if not index.isdigit():
            raise core.UserError(f"--device {spec!r}: write cuda:N with N a GPU number")
        try:
            gpus = jax.devices("gpu")
        except RuntimeError:
            gpus = []
        if not gpus:
            raise core.UserError(
                f"--device {spec}: this jaxlib sees no GPU (a CPU build, or no GPU here); use --device cpu"
            )
        if int(index) >= len(gpus):
            raise core.UserError(f"--device {spec}: JAX sees {len(gpus)} GPU(s)")
        return gpus[int(index)]
    raise core.UserError(f"--device {spec!r}: use cpu or cuda:N")


def threads() -> int:
    """The threads of XLA's CPU client: one per usable core (it does not read OMP_NUM_THREADS)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def asarray(array: np.ndarray, device: jax.Device) -> jax.Array:
    """A copy of a numpy array as a jax array with the same dtype on a device."""
    return jax.device_put(np.array(array), device)


def to_numpy(X: jax.Array) -> np.ndarray:
    """A numpy copy of a jax array."""
    return np.array(X)


def to_tensor(pixels: np.ndarray, dtype: str, normalize: bool, device: jax.Device) -> jax.Array:
    """uint8 (H, W, 3) -> (1, 3, H, W) in ``dtype``, computed in that dtype."""
    X = jnp.asarray(jax.device_put(np.ascontiguousarray(pixels), device)).astype(dtype).transpose(2, 0, 1)[None]
    X = X / jnp.asarray(255, dtype)
    if normalize:
        X = (X - jnp.asarray(MEAN, dtype).reshape(1, 3, 1, 1)) / jnp.asarray(STD, dtype).reshape(1, 3, 1, 1)
    return X


def to_pixels(X: jax.Array, normalized: bool = True) -> np.ndarray:
    """(1, 3, H, W) -> (H, W, 3) float64 in [0, 1]."""
    img = np.asarray(X)[0].transpose(1, 2, 0).astype(np.float64)
    if normalized:
        img = img * np.asarray(STD) + np.asarray(MEAN)
    return np.clip(img, 0, 1)
