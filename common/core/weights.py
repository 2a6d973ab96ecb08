"""Where VGG-19 weights come from: seeded random numbers, local files, or a library's ImageNet download.

Every source ends as one dict of numpy arrays under the canonical names, torchvision's ('features.0.weight', ...,
'classifier.6.bias'). Each backend owns one weight-file format: backends/<name>/weights.toml declares its extensions
and first bytes (read here without importing any framework), and the backend's contract methods read and write
its files and translate its library's own names to and from the canonical ones (Backend.canonical_names,
own_names). A file is read by the backend whose format it is: interface.read_weights_file.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import layers, registry
from .errors import UserError
from .files import check_input_file

SPECS = ("auto", "imagenet", "random")


@dataclass(frozen=True)
class WeightFormat:
    """A backend's own weight-file format, as backends/<backend>/weights.toml declares it."""

    backend: str
    suffixes: tuple[str, ...]  # the first is the extension of the files it writes
    magic: tuple[bytes, ...]  # a file of this format starts with one of these
    what: str  # "a torch state dict (.pth)": names the format when a file is of none
    destination: str  # ".pth (torch state dict)": names the format when a destination's extension is of none
    members: str | None = None  # a zip archive (magic 504b0304) is of this format when all its members match this


def _members_match(path: Path, pattern: str) -> bool:
    """Whether a file is a zip archive whose members' names all match a pattern ('*.npy': numpy's .npz)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return bool(names) and all(fnmatch.fnmatchcase(name, pattern) for name in names)


def weight_format(backend: str) -> WeightFormat:
    """The weight-file format a backend declares (read without importing its framework)."""
    d = registry.declared(backend, "weights")
    magic = tuple(bytes.fromhex(m) for m in d["magic"])
    return WeightFormat(backend, tuple(d["suffixes"]), magic, d["what"], d["destination"], d.get("members"))


def weight_formats() -> tuple[WeightFormat, ...]:
    """Every backend's weight-file format, in the registry's order."""
    return tuple(weight_format(name) for name in registry.NAMES)


def weight_suffixes() -> tuple[str, ...]:
    """Every extension of every backend's weight files."""
    return tuple(suffix for fmt in weight_formats() for suffix in fmt.suffixes)


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
    """The backend whose weight-file format a file is in, from the file's first bytes (and, for formats that share
    them, the members a zip archive holds); UserError for none."""
    p = Path(path)
    check_input_file(p, "weights file", "a weights file")
    formats = weight_formats()
    with open(p, "rb") as f:
        head = f.read(max(len(m) for fmt in formats for m in fmt.magic))
    matching = [fmt for fmt in formats if any(head.startswith(m) for m in fmt.magic)]
    for fmt in sorted(matching, key=lambda fmt: fmt.members is None):  # those that name their members first
        if fmt.members is None or _members_match(p, fmt.members):
            return fmt.backend
    raise UserError(f"weights file {str(p)!r} is neither " + " nor ".join(fmt.what for fmt in formats))


def format_of_suffix(path: str | os.PathLike) -> str:
    """The backend whose weight-file format a destination's extension names; UserError for none."""
    suffix = Path(path).suffix.lower()
    formats = weight_formats()
    for fmt in formats:
        if suffix in fmt.suffixes:
            return fmt.backend
    raise UserError(f"destination {str(path)!r}: use " + " or ".join(fmt.destination for fmt in formats))


def random_weights(seed: int, upto: layers.Layer | None, note: str = "") -> VGGWeights:
    """Seeded random VGG-19 weights, described for the run record."""
    return VGGWeights(random_vgg19(seed, upto), "random", f"random (He-normal, seed {seed})" + note)
