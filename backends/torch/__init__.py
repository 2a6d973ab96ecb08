"""The PyTorch backend: the common contract in torch's idiom (nn.Module, autograd, torch.optim)."""

from __future__ import annotations

import torch

from .. import common
from . import losses, processing, vgg, weights
from .trainer import SynthesizedImage, Trainer, gradient


class Backend(common.Backend):
    """PyTorch implementation of common.Backend."""

    name = "torch"
    framework = "torch"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(processing.check_device(device))
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

    to_numpy = staticmethod(processing.to_numpy)
    to_pixels = staticmethod(processing.to_pixels)
    gram = staticmethod(losses.gram)
    content_loss = staticmethod(losses.content_loss)
    style_loss = staticmethod(losses.style_loss)
    tv_loss = staticmethod(losses.tv_loss)
    feature_extractor = staticmethod(vgg.feature_extractor)
    synthesized_image = staticmethod(SynthesizedImage)
    trainer = staticmethod(Trainer)
    gradient = staticmethod(gradient)
    pretrained_weights = staticmethod(weights.pretrained)

    def _build_vgg19(self, arrays, last, pooling, dtype):
        return vgg.build(arrays, last, pooling, dtype, self.torch_device)
