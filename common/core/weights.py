"""Where VGG-19 weights come from: seeded random numbers, local files, or a library's ImageNet download.

Every source ends as one dict of numpy arrays keyed like torchvision's state dict ('features.0.weight', ...):
Gluon's structural parameter names for ``features`` are the same keys, so both backends load the same dict.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import layers
from .errors import UserError
from .files import check_input_file

SPECS = ("auto", "imagenet", "random")
# The weight-file formats, named by the backend whose framework reads and writes them, and their extensions.
SUFFIXES: dict[str, tuple[str, ...]] = {"torch": (".pth", ".pt"), "mxnet": (".params",)}
_MXNET_MAGIC = (0x112).to_bytes(8, "little")  # kMXAPINDArrayListMagic, the first 8 bytes of a .params file

# Gluon's vgg19 keeps its Dense layers inside `features` (37, 39) and the last one in `output`.
GLUON_TO_TORCH_CLASSIFIER = {
    "features.37": "classifier.0",
    "features.39": "classifier.3",
    "output": "classifier.6",
}
TORCH_TO_GLUON_CLASSIFIER = {v: k for k, v in GLUON_TO_TORCH_CLASSIFIER.items()}


@dataclass(frozen=True)
class VGGWeights:
    """VGG-19's weight arrays and a one-line account of where they came from (for the run record)."""

    arrays: Mapping[str, np.ndarray]
    source: str  # "random", "imagenet" or "file"
    description: str


def random_vgg19(seed: int, upto: layers.Layer | None = None) -> dict[str, np.ndarray]:
    """Seeded He-normal float32 conv weights and small normal biases, identical on every backend and machine.

    Each conv layer draws from its own child of SeedSequence(seed), so cutting the network early changes
    none of the numbers of the layers that remain. Drawn once per (seed, layer) in a process (a batch worker runs
    many jobs); every call gets its own copies.
    """
    return {key: array.copy() for key, array in _drawn(seed, upto).items()}


@functools.lru_cache(maxsize=4)
def _drawn(seed: int, upto: layers.Layer | None) -> dict[str, np.ndarray]:
    children = np.random.SeedSequence(seed).spawn(len(layers.CONV_LAYERS))
    out: dict[str, np.ndarray] = {}
    for conv, child in zip(layers.CONV_LAYERS, children, strict=True):
        if upto is not None and conv.index > upto.index:
            break
        rng = np.random.Generator(np.random.PCG64(child))
        fan_in = conv.in_channels * 9
        w = rng.standard_normal((conv.out_channels, conv.in_channels, 3, 3)) * np.sqrt(2.0 / fan_in)
        out[f"features.{conv.index}.weight"] = w.astype(np.float32)
        out[f"features.{conv.index}.bias"] = (rng.standard_normal(conv.out_channels) * 0.05).astype(np.float32)
    return out


def canonical_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename a state dict's keys to 'features.N.*' / 'classifier.N.*', whatever library or era wrote it.

    Accepts torchvision names, a bare nn.Sequential of the features ('0.weight'), Gluon structural names
    ('features.37.weight', 'output.bias') and Gluon's legacy prefixed names ('vgg0_conv3_weight', 'dense0_bias').
    """
    out: dict[str, np.ndarray] = {}
    convs = [c.index for c in layers.CONV_LAYERS]
    for key, value in arrays.items():
        name = key.removeprefix("module.")
        legacy = re.fullmatch(r"(?:.*_)?(conv|dense)(\d+)_(weight|bias)", name)
        if legacy:
            kind, k, p = legacy.group(1), int(legacy.group(2)), legacy.group(3)
            if kind == "conv" and k < len(convs):
                name = f"features.{convs[k]}.{p}"
            elif kind == "dense" and k < 3:
                name = f"classifier.{(0, 3, 6)[k]}.{p}"
        elif re.fullmatch(r"\d+\.(weight|bias)", name):
            name = "features." + name
        else:
            prefix, _, p = name.rpartition(".")
            name = f"{GLUON_TO_TORCH_CLASSIFIER.get(prefix, prefix)}.{p}"
        out[name] = value
    return out


def validate(arrays: Mapping[str, np.ndarray], upto: layers.Layer | None, origin: str) -> dict[str, np.ndarray]:
    """The conv weights a run needs, checked for presence and shape; UserError names what is wrong."""
    needed = layers.conv_param_names(upto)
    if not any(key in arrays for key in needed):
        sample = ", ".join(sorted(arrays)[:3]) or "nothing"
        raise UserError(f"{origin} holds no VGG-19 features weights (found {sample}); is it a VGG-19 file?")
    out: dict[str, np.ndarray] = {}
    for key in needed:
        if key not in arrays:
            raise UserError(f"{origin} lacks {key}; it is not a complete VGG-19 features weight file")
        a = np.asarray(arrays[key])
        if a.shape != layers.param_shape(key):
            raise UserError(f"{origin}: {key} has shape {a.shape}, VGG-19 needs {layers.param_shape(key)}")
        if not np.issubdtype(a.dtype, np.floating) or not np.all(np.isfinite(a)):
            raise UserError(f"{origin}: {key} is not finite floating-point data")
        out[key] = a
    return out


def file_format(path: str | os.PathLike) -> str:
    """'torch' or 'mxnet', from the file's first bytes; UserError for anything else."""
    p = Path(path)
    check_input_file(p, "weights file", "a weights file")
    with open(p, "rb") as f:
        head = f.read(8)
    if head == _MXNET_MAGIC:
        return "mxnet"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":  # torch.save zip archive, or a legacy pickle
        return "torch"
    raise UserError(f"weights file {str(p)!r} is neither a torch state dict (.pth) nor a Gluon .params file")


def format_of_suffix(path: str | os.PathLike) -> str:
    """The weight-file format ('torch' or 'mxnet') a destination's extension names; UserError for another."""
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in SUFFIXES.items():
        if suffix in suffixes:
            return fmt
    raise UserError(f"destination {str(path)!r}: use .pth (torch state dict) or .params (Gluon parameters)")


def random_weights(seed: int, upto: layers.Layer | None, note: str = "") -> VGGWeights:
    """Seeded random VGG-19 weights, described for the run record."""
    return VGGWeights(random_vgg19(seed, upto), "random", f"random (He-normal, seed {seed})" + note)


def gluon_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torchvision names -> the structural names of Gluon's model zoo vgg19 ('features.37.weight', 'output.bias')."""
    out = {}
    for key, value in arrays.items():
        prefix, _, p = key.rpartition(".")
        out[f"{TORCH_TO_GLUON_CLASSIFIER.get(prefix, prefix)}.{p}"] = value
    return out
