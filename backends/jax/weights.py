"""JAX's weight files: numpy .npz archives of named arrays (declared in weights.toml), the way JAX programs commonly
keep parameters (JAX itself has no file format and no model zoo)."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping

import numpy as np

from .. import core

FILE = "vgg19.npz"  # the ImageNet VGG-19 this backend looks for in its cache folder


def read(path: str) -> dict[str, np.ndarray]:
    """Every array of a .npz file as numpy arrays (pickled objects refused: no code in the file is run)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise core.UserError(f"{path!r} is not a readable numpy .npz archive: {str(e).splitlines()[0][:200]}") from e


def write(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Save canonically named arrays as an .npz archive under the same names (to the open file: np.savez would add
    .npz to a path without it, such as the caller's temporary name)."""
    with open(path, "wb") as f:
        np.savez(f, **{k: np.ascontiguousarray(v) for k, v in own_names(arrays).items()})


def canonical_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This backend's names are the canonical ones ('features.N.weight'); a bare 'N.weight' is read as
    'features.N.weight', as the torch backend reads a bare nn.Sequential."""
    out = {}
    for key, value in arrays.items():
        head, _, tail = key.partition(".")
        out["features." + key if head.isdigit() and tail in ("weight", "bias") else key] = value
    return out


def own_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The canonical names are this backend's own: the same arrays under the same names."""
    return dict(arrays)


def cache_dir() -> str:
    """Where this backend looks for ImageNet VGG-19: $NST_JAX_HOME, else ~/.cache/nst/jax."""
    return os.environ.get("NST_JAX_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "nst", "jax")


def pretrained() -> tuple[dict[str, np.ndarray], str]:
    """ImageNet VGG-19 from this backend's cache folder: JAX has no model zoo, so the file is one that
    `nst convert-weights` wrote there from torchvision's .pth or Gluon's .params."""
    path = os.path.join(cache_dir(), FILE)
    if not os.path.isfile(path):
        raise core.WeightsUnavailable(
            f"JAX has no model zoo: ImageNet VGG-19 ({FILE}) is not in {cache_dir()}; write it there with "
            "nst convert-weights from torchvision's .pth or Gluon's .params, or use --weights PATH or --weights random"
        )
    return read(path), path
