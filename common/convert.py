"""Converting VGG-19 weight files between torchvision's state dict (.pth) and Gluon's parameters (.params).

A converted .params file loads into ``mxnet.gluon.model_zoo.vision.vgg19()``, a converted .pth into
``torchvision.models.vgg19()``; arrays are copied bit for bit, so a round trip gives back the same file contents.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from . import layers
from .errors import UserError
from .outputs import check_writable
from .registry import backend_module
from .weights import MXNET_SUFFIXES, TORCH_SUFFIXES, TORCH_TO_GLUON_CLASSIFIER, read_file

CLASSIFIER_SHAPES = {
    "classifier.0.weight": (4096, 25088),
    "classifier.0.bias": (4096,),
    "classifier.3.weight": (4096, 4096),
    "classifier.3.bias": (4096,),
    "classifier.6.weight": (1000, 4096),
    "classifier.6.bias": (1000,),
}


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Every key of a full VGG-19 state dict (torchvision names) and its shape."""
    shapes = {key: layers.param_shape(key) for key in layers.conv_param_names()}
    shapes.update(CLASSIFIER_SHAPES)
    return shapes


def check_vgg19(arrays: Mapping[str, np.ndarray], origin: str) -> None:
    """UserError unless every array is a VGG-19 parameter of the right shape, and conv1_1 is among them."""
    shapes = expected_shapes()
    for key, value in arrays.items():
        if key not in shapes:
            raise UserError(f"{origin} is not a VGG-19 weight file: it holds {key!r}")
        if tuple(value.shape) != shapes[key]:
            raise UserError(f"{origin}: {key} has shape {tuple(value.shape)}, VGG-19 needs {shapes[key]}")
    if "features.0.weight" not in arrays:
        raise UserError(f"{origin} holds no conv1_1 weights (features.0.weight); it is not a VGG-19 weight file")


def gluon_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torchvision names -> the structural names of Gluon's model zoo vgg19 ('features.37.weight', 'output.bias')."""
    out = {}
    for key, value in arrays.items():
        prefix, _, p = key.rpartition(".")
        out[f"{TORCH_TO_GLUON_CLASSIFIER.get(prefix, prefix)}.{p}"] = value
    return out


def target_format(path: str | os.PathLike) -> str:
    """'torch' for .pth/.pt, 'mxnet' for .params, from the destination's extension."""
    suffix = Path(path).suffix.lower()
    if suffix in TORCH_SUFFIXES:
        return "torch"
    if suffix in MXNET_SUFFIXES:
        return "mxnet"
    raise UserError(f"destination {str(path)!r}: use .pth (torch state dict) or .params (Gluon parameters)")


def convert(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Convert a VGG-19 weight file to the format dst's extension names; return a one-line summary."""
    fmt = target_format(dst)
    check_writable(dst, TORCH_SUFFIXES + MXNET_SUFFIXES, "destination")
    if Path(src).resolve() == Path(dst).resolve():
        raise UserError("source and destination are the same file")
    arrays = read_file(src)
    check_vgg19(arrays, f"weights file {str(src)!r}")
    backend_module(fmt, "weights").write(str(dst), gluon_names(arrays) if fmt == "mxnet" else arrays)
    convs = sum(1 for key in arrays if key.startswith("features.") and key.endswith(".weight"))
    classifier = sum(1 for key in arrays if key.startswith("classifier.") and key.endswith(".weight"))
    return f"wrote {dst}: {convs} conv and {classifier} classifier layers, {len(arrays)} arrays, as {fmt} weights"
