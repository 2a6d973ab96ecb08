"""The MXNet backend: the common contract in Gluon's idiom (Block/HybridBlock, autograd.record, gluon.Trainer)."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping

# MXNet sizes its OpenMP pool when its engine starts, for good; left alone it uses one thread on a 2-core
# machine (1.5x slower here). So the thread count must be set before mxnet is imported.
if "mxnet" in sys.modules and "OMP_NUM_THREADS" not in os.environ:
    warnings.warn(
        "mxnet was imported before the nst mxnet backend with OMP_NUM_THREADS unset: it may run on one thread; "
        "set OMP_NUM_THREADS to the number of cores before importing mxnet",
        stacklevel=2,
    )
if hasattr(os, "sched_getaffinity"):
    os.environ.setdefault("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))

import mxnet as mx
import numpy as np

from .. import core
from . import generator, processing, vgg


class Backend(core.Backend):
    """MXNet/Gluon implementation of core.Backend."""

    name = "mxnet"
    framework = "mxnet"

    def __init__(self, device: str = "cpu") -> None:
        super().__init__(device)
        self.ctx = processing.device(device)

    @property
    def version(self) -> str:
        """mxnet's version."""
        return mx.__version__

    def asarray(self, array: np.ndarray) -> mx.nd.NDArray:
        """An NDArray copy of a numpy array in this context."""
        return processing.asarray(array, self.ctx)

    def to_tensor(self, pixels: np.ndarray, dtype: str = "float32", normalize: bool = True) -> mx.nd.NDArray:
        """uint8 HWC pixels -> normalized NCHW NDArray."""
        return processing.to_tensor(pixels, dtype, normalize, self.ctx)

    def _build_vgg19(
        self, arrays: Mapping[str, np.ndarray], last: core.layers.Layer, pooling: str, dtype: str
    ) -> mx.gluon.nn.HybridSequential:
        return vgg.build(arrays, last, pooling, dtype, self.ctx)

    def _build_generator(self, arrays: Mapping[str, np.ndarray], dtype: str) -> generator.Generator:
        return generator.build(arrays, dtype, self.ctx)
