"""The MXNet backend: the common contract in Gluon's idiom (Block/HybridBlock, autograd.record, gluon.Trainer)."""

from __future__ import annotations

import os

# MXNet sizes its OpenMP pool when it loads; left alone it uses one thread on a 2-core machine.
if hasattr(os, "sched_getaffinity"):
    os.environ.setdefault("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))

import mxnet as mx

from .. import common
from . import losses, processing, vgg, weights
from .trainer import SynthesizedImage, Trainer, gradient


class Backend(common.Backend):
    """MXNet/Gluon implementation of common.Backend."""

    name = "mxnet"
    framework = "mxnet"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device)
        self.ctx = processing.context(device)

    @property
    def version(self) -> str:
        """mxnet's version."""
        return mx.__version__

    def asarray(self, array):
        """An NDArray copy of a numpy array in this context."""
        return processing.asarray(array, self.ctx)

    def to_tensor(self, pixels, dtype="float32", normalize=True):
        """uint8 HWC pixels -> normalized NCHW NDArray."""
        return processing.to_tensor(pixels, dtype, normalize, self.ctx)

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
        return vgg.build(arrays, last, pooling, dtype, self.ctx)
