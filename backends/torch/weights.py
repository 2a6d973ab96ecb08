"""torch weight files (.pth state dicts, declared in weights.toml), their names, and torchvision's ImageNet VGG-19
download."""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Mapping

import numpy as np
import torch

from .. import core

TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"


def read(path: str) -> dict[str, np.ndarray]:
    """Every tensor of a torch state dict file as numpy arrays (no code in the file is run)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for damaged or foreign files
        raise core.UserError(f"{path!r} is not a readable torch state dict: {str(e).splitlines()[0][:200]}") from e
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise core.UserError(f"{path!r} holds a {type(state).__name__}, not a state dict")
    return {k: v.detach().cpu().numpy() for k, v in state.items() if isinstance(v, torch.Tensor)}


def write(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Save canonically named arrays as a torch state dict (torchvision's names are the canonical ones)."""
    torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}, path)


def canonical_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torch's names -> the canonical ones, which are torchvision's: a DataParallel 'module.' prefix dropped, and a
    bare nn.Sequential of the features ('0.weight') read as 'features.0.weight'."""
    out = {}
    for key, value in arrays.items():
        name = key.removeprefix("module.")
        out["features." + name if re.fullmatch(r"\d+\.(weight|bias)", name) else name] = value
    return out


def own_names(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The canonical names are torchvision's own: the same arrays under the same names."""
    return dict(arrays)


def cache_dir() -> str:
    """Where torch.hub keeps downloaded checkpoints."""
    return os.path.join(torch.hub.get_dir(), "checkpoints")


def pretrained() -> tuple[dict[str, np.ndarray], str]:
    """torchvision's VGG19_Weights.IMAGENET1K_V1, from torch.hub's cache or downloaded into it."""
    from torchvision.models import VGG19_Weights

    path = os.path.join(cache_dir(), TORCHVISION_FILE)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # torch.hub's "Downloading: ..." line
            state = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=False, check_hash=True)
    except Exception as e:  # URLError, hash mismatch, disk errors: all mean "cannot be had"
        raise core.WeightsUnavailable(
            f"torchvision's ImageNet VGG-19 ({TORCHVISION_FILE}) is not in {cache_dir()} and could not be "
            f"downloaded ({type(e).__name__}); put the file there, or use --weights PATH or --weights random"
        ) from e
    return {k: v.numpy() for k, v in state.items()}, path
