"""The JAX backend: the common contract in JAX's idiom (pure functions of explicit parameters, jax.grad, jit,
functional optimizer state)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import jax
import numpy as np

# float64 runs need 64-bit arrays, which JAX turns into 32-bit ones unless x64 is enabled. Enabling it changes only
# the default dtype of arrays made without one; this backend names the dtype of every array it makes, so float32 runs
# are the same computation with x64 on (docs/porting.md, pitfall "JAX is float32-only unless x64 is enabled").
jax.config.update("jax_enable_x64", True)

from .. import core  # noqa: E402
from . import generator, processing, vgg, weights  # noqa: E402

# XLA compiles each program (a training step: 20-40 s at 48x64 on 2 cores) in every new process; JAX can keep the
# compiled programs on disk. Where JAX_COMPILATION_CACHE_DIR is not set, they go beside this backend's other files.
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    jax.config.update("jax_compilation_cache_dir", os.path.join(weights.cache_dir(), "compiled"))


class Backend(core.Backend):
    """JAX implementation of core.Backend."""

    name = "jax"
    framework = "jax"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device)
        self.jax_device = processing.device(device)

    @property
    def version(self) -> str:
        """jax's version."""
        return jax.__version__

    def asarray(self, array: np.ndarray) -> jax.Array:
        """A jax array copy of a numpy array on this device."""
        return processing.asarray(array, self.jax_device)

    def to_tensor(self, pixels: np.ndarray, dtype: str = "float32", normalize: bool = True) -> jax.Array:
        """uint8 HWC pixels -> normalized NCHW jax array."""
        return processing.to_tensor(pixels, dtype, normalize, self.jax_device)

    def _build_vgg19(
        self, arrays: Mapping[str, np.ndarray], last: core.layers.Layer, pooling: str, dtype: str
    ) -> vgg.VGG:
        return vgg.build(arrays, last, pooling, dtype, self.jax_device)

    def _build_generator(self, arrays: Mapping[str, np.ndarray], dtype: str) -> generator.Generator:
        return generator.build(arrays, dtype, self.jax_device)
