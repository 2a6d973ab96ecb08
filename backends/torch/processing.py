"""Tensors in and out of torch, and the image <-> tensor conversions."""

from __future__ import annotations

import numpy as np
import torch

from .. import core

MEAN = core.reference.IMAGENET_MEAN
STD = core.reference.IMAGENET_STD


def device(spec: str) -> str:
    """'cpu' or 'cuda:N' if torch can use it, else UserError saying what is there."""
    if spec == "cpu":
        return spec
    if spec == "cuda" or spec.startswith("cuda:"):
        index = spec.partition(":")[2] or "0"
        if not index.isdigit():
            raise core.UserError(f"--device {spec!r}: write cuda:N with N a GPU number")
        if not torch.cuda.is_available():
            raise core.UserError(f"--device {spec}: torch sees no CUDA GPU on this machine; use --device cpu")
        if int(index) >= torch.cuda.device_count():
            raise core.UserError(f"--device {spec}: torch sees {torch.cuda.device_count()} GPU(s)")
        return f"cuda:{index}"
    raise core.UserError(f"--device {spec!r}: use cpu or cuda:N")


def threads() -> int:
    """torch's intra-op threads in this process."""
    return torch.get_num_threads()


def asarray(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A copy of a numpy array as a torch tensor (same dtype) on a device."""
    return torch.tensor(np.asarray(array), device=device)


def to_numpy(X: torch.Tensor) -> np.ndarray:
    """A numpy copy of a tensor."""
    return X.detach().cpu().numpy().copy()


def to_tensor(pixels: np.ndarray, dtype: str, normalize: bool, device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) -> (1, 3, H, W) in ``dtype``; not torchvision's ToTensor, which always gives float32."""
    torch_dtype = getattr(torch, dtype)
    X = torch.from_numpy(np.ascontiguousarray(pixels)).to(device).permute(2, 0, 1).unsqueeze(0).to(torch_dtype) / 255
    if normalize:
        mean = torch.tensor(MEAN, dtype=torch_dtype, device=device).reshape(1, 3, 1, 1)
        std = torch.tensor(STD, dtype=torch_dtype, device=device).reshape(1, 3, 1, 1)
        X = (X - mean) / std
    return X.contiguous()


def to_pixels(X: torch.Tensor, normalized: bool = True) -> np.ndarray:
    """(1, 3, H, W) -> (H, W, 3) float64 in [0, 1]."""
    img = X.detach()[0].permute(1, 2, 0).to("cpu", torch.float64)
    if normalized:
        img = img * torch.tensor(STD) + torch.tensor(MEAN)
    return torch.clamp(img, 0, 1).numpy()
