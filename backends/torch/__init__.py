"""The PyTorch backend: the common contract in torch's idiom (nn.Module, autograd, torch.optim)."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping

# Intel MKL (inside torch) picks code paths at run time, and some float32 results (e.g. a convolution's
# backward on a 1x1 map) then differ between processes. Conditional Numerical Reproducibility makes them
# identical; it is read when MKL loads, so it must be set before torch is imported (docs/porting.md).
if "torch" in sys.modules and "MKL_CBWR" not in os.environ:
    warnings.warn(
        "torch was imported before the nst torch backend: set MKL_CBWR=AUTO,STRICT before importing torch, or "
        "float32 results may differ between processes",
        stacklevel=2,
    )
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

import numpy as np
import torch

from .. import core
from . import generator, processing, vgg


class Backend(core.Backend):
    """PyTorch implementation of core.Backend."""

    name = "torch"
    framework = "torch"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(processing.device(device))
        self.torch_device = torch.device(self.device)

    @property
    def version(self) -> str:
        """torch's version."""
        return torch.__version__

    def asarray(self, array: np.ndarray) -> torch.Tensor:
        """A torch tensor copy of a numpy array on this device."""
        return processing.asarray(array, self.torch_device)

    def to_tensor(self, pixels: np.ndarray, dtype: str = "float32", normalize: bool = True) -> torch.Tensor:
        """uint8 HWC pixels -> normalized NCHW tensor."""
        return processing.to_tensor(pixels, dtype, normalize, self.torch_device)

    def _build_vgg19(
        self, arrays: Mapping[str, np.ndarray], last: core.layers.Layer, pooling: str, dtype: str
    ) -> torch.nn.Sequential:
        return vgg.build(arrays, last, pooling, dtype, self.torch_device)

    def _build_generator(self, arrays: Mapping[str, np.ndarray], dtype: str) -> generator.HRNet:
        return generator.build(arrays, dtype, self.torch_device)
