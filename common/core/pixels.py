"""The one resize both backends share, and 8-bit pixels in and out of floats.

Sizes are (H, W) = (rows, columns) everywhere in this project; PIL's resize wants (W, H) and is only called here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to (H, W) with PIL bilinear filtering (what torchvision.transforms.Resize does to a PIL image)."""
    h, w = size
    if img.size == (w, h):
        return img
    return img.resize((w, h), Image.Resampling.BILINEAR)


def pixels(img: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 (H, W, 3) array of an RGB image, resized to (H, W) first if a size is given."""
    if size is not None:
        img = resize(img, size)
    return np.array(img.convert("RGB"), dtype=np.uint8)


def from_float(hwc: np.ndarray) -> Image.Image:
    """RGB image from (H, W, 3) floats in [0, 1], rounded to the nearest 8-bit level (not truncated)."""
    return Image.fromarray(np.rint(np.clip(hwc, 0, 1) * 255).astype(np.uint8), "RGB")
