"""NDArrays in and out of MXNet, and the image <-> tensor conversions."""

from __future__ import annotations

import os

import mxnet as mx
import numpy as np
from mxnet import nd

from .. import core

THREADS = int(os.environ.get("OMP_NUM_THREADS") or 0) or len(os.sched_getaffinity(0))  # read as mxnet was imported

MEAN = core.reference.IMAGENET_MEAN
STD = core.reference.IMAGENET_STD


def device(spec: str) -> mx.Context:
    """mx.cpu() or mx.gpu(N) if this MXNet build can use it, else UserError saying what is there."""
    if spec == "cpu":
        return mx.cpu()
    if spec == "cuda" or spec.startswith("cuda:"):
        index = spec.partition(":")[2] or "0"
        if not index.isdigit():
            raise core.UserError(f"--device {spec!r}: write cuda:N with N a GPU number")
        gpus = mx.context.num_gpus()
        if gpus == 0:
            raise core.UserError(
                f"--device {spec}: this MXNet build sees no GPU (a CPU build, or no GPU here); use --device cpu"
            )
        if int(index) >= gpus:
            raise core.UserError(f"--device {spec}: MXNet sees {gpus} GPU(s)")
        return mx.gpu(int(index))
    raise core.UserError(f"--device {spec!r}: use cpu or cuda:N")


def threads() -> int:
    """MXNet's OpenMP threads in this process: OMP_NUM_THREADS as it was when mxnet was imported."""
    return THREADS


def asarray(array: np.ndarray, ctx: mx.Context) -> nd.NDArray:
    """A copy of a numpy array as an NDArray with the same dtype (nd.array alone would make it float32)."""
    array = np.asarray(array)
    return nd.array(array, ctx=ctx, dtype=array.dtype)


def to_numpy(X: nd.NDArray) -> np.ndarray:
    """A numpy copy of an NDArray."""
    return X.asnumpy()


def to_tensor(pixels: np.ndarray, dtype: str, normalize: bool, ctx: mx.Context) -> nd.NDArray:
    """uint8 (H, W, 3) -> (1, 3, H, W) in ``dtype``, computed in that dtype."""
    X = nd.array(pixels, ctx=ctx, dtype=np.uint8).astype(dtype).transpose((2, 0, 1)).expand_dims(axis=0) / 255
    if normalize:
        mean = nd.array(MEAN, ctx=ctx, dtype=dtype).reshape((1, 3, 1, 1))
        std = nd.array(STD, ctx=ctx, dtype=dtype).reshape((1, 3, 1, 1))
        X = nd.broadcast_div(nd.broadcast_sub(X, mean), std)
    return X


def to_pixels(X: nd.NDArray, normalized: bool = True) -> np.ndarray:
    """(1, 3, H, W) -> (H, W, 3) float64 in [0, 1]."""
    img = X[0].as_in_context(mx.cpu()).astype("float64").transpose((1, 2, 0))
    if normalized:
        img = nd.broadcast_add(nd.broadcast_mul(img, nd.array(STD, dtype="float64")), nd.array(MEAN, dtype="float64"))
    return img.clip(0, 1).asnumpy()
