"""The PyTorch backend: the common contract in torch's idiom (nn.Module, autograd, torch.optim)."""

from __future__ import annotations

import torch

from .. import common
from . import processing, vgg


class Backend(common.Backend):
    """PyTorch implementation of common.Backend."""

    name = "torch"
    framework = "torch"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(processing.device(device))
        self.torch_device = torch.device(self.device)

    @property
    def version(self) -> str:
        """torch's version."""
        return torch.__version__

    def asarray(self, array):
        """A torch tensor copy of a numpy array on this device."""
        return processing.asarray(array, self.torch_device)

    def to_tensor(self, pixels, dtype="float32", normalize=True):
        """uint8 HWC pixels -> normalized NCHW tensor."""
        return processing.to_tensor(pixels, dtype, normalize, self.torch_device)

    def _build_vgg19(self, arrays, last, pooling, dtype):
        return vgg.build(arrays, last, pooling, dtype, self.torch_device)
