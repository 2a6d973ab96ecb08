"""The JAX backend: the common contract in JAX's idiom (pure functions of explicit parameters, jax.grad, jit,
functional optimizer state)."""

from __future__ import annotations

import jax

# float64 runs need 64-bit arrays, which JAX turns into 32-bit ones unless x64 is enabled. Enabling it changes only
# the default dtype of arrays made without one; this backend names the dtype of every array it makes, so float32 runs
# are the same computation with x64 on (docs/porting.md, pitfall "JAX is float32-only unless x64 is enabled").
jax.config.update("jax_enable_x64", True)

from .. import core  # noqa: E402
from . import generator, processing, vgg  # noqa: E402


class Backend(core.Backend):
    """JAX implementation of core.Backend."""

    name = "jax"
    framework = "jax"
    bf16_is_faster = False  # XLA's CPU convolutions have no bf16 kernels: it converts to fp32 and back

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device)
        self.jax_device = processing.device(device)

    @property
    def version(self) -> str:
        """jax's version."""
        return jax.__version__

    def asarray(self, array):
        """A jax array copy of a numpy array on this device."""
        return processing.asarray(array, self.jax_device)

    def to_tensor(self, pixels, dtype="float32", normalize=True):
        """uint8 HWC pixels -> normalized NCHW jax array."""
        return processing.to_tensor(pixels, dtype, normalize, self.jax_device)

    def _build_vgg19(self, arrays, last, pooling, dtype):
        return vgg.build(arrays, last, pooling, dtype, self.jax_device)

    def _build_generator(self, arrays, dtype):
        return generator.build(arrays, dtype, self.jax_device)
