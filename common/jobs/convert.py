"""Converting VGG-19 weight files between the backends' formats: torchvision's state dict (.pth), Gluon's
parameters (.params) and the JAX backend's numpy archive (.npz).

The source is read by the backend whose format it is, the destination written by the backend whose format its
extension names (backends/<name>/weights.toml), under the names that library's own vgg19 loads: a converted .params
file loads into ``mxnet.gluon.model_zoo.vision.vgg19()``, a converted .pth into ``torchvision.models.vgg19()``.
Arrays are copied bit for bit, so a round trip gives back the same file contents.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core import layers
from ..core.errors import UserError
from ..core.interface import load_backend, read_weights_file
from ..core.weights import format_of_suffix, weight_suffixes
from .outputs import check_writable, write_atomic
from .paths import same_file

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


def convert(src: str | os.PathLike, dst: str | os.PathLike) -> str:
    """Convert a VGG-19 weight file to the format dst's extension names; return a one-line summary."""
    fmt = format_of_suffix(dst)
    check_writable(dst, weight_suffixes(), "destination")
    if same_file(src, dst):  # by any spelling, symlink or hard link
        raise UserError(f"source {str(src)!r} and destination {str(dst)!r} are the same file")
    arrays = read_weights_file(src)
    check_vgg19(arrays, f"weights file {str(src)!r}")
    writer = load_backend(fmt)
    write_atomic(dst, lambda tmp: writer.write_weights(tmp, arrays), "weights file")
    convs = sum(1 for key in arrays if key.startswith("features.") and key.endswith(".weight"))
    classifier = sum(1 for key in arrays if key.startswith("classifier.") and key.endswith(".weight"))
    return f"wrote {dst}: {convs} conv and {classifier} classifier layers, {len(arrays)} arrays, as {fmt} weights"


ABOUT = {
    "description": "Convert VGG-19 weights between torchvision's state dict (.pth), Gluon's parameter file "
    "(.params) and the JAX backend's numpy archive (.npz), any way; the destination's extension picks the format. "
    "Arrays are copied bit for bit."
}
# The arguments of nst convert-weights: (names, argparse keywords).
FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("src",), {"help": "a .pth, .params or .npz file (the format is read from its contents)"}),
    (("dst",), {"help": "the file to write: .pth, .params or .npz"}),
)
