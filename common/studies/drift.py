"""Whether a stylized picture is usable or has drifted (issue 15): three measures of the image as written.

- mean: its mean pixel value, in [0, 1], within MEAN_RANGE (a drifting generator goes to black, or white);
- clipped: the share of its pixels with a channel at 0 or 255, under CLIPPED_MAX;
- structure: the correlation of the Sobel edge magnitudes of its luminance with the content's, both box-filtered
  to STRUCTURE_SIDE pixels on the longer side first, at least STRUCTURE_MIN. Style transfer is meant to replace
  the content's fine texture (the cat's fur); what it must keep is the layout of the scene (eyes, nose, ears,
  outline), which is what edges at 64 pixels see.

Measured (benchmarks/photoreal_drift.py; docs/photoreal.md, "Why the output drifted"): structure 1.00 for the
content itself, -0.01 for the style image and 0.02 for noise in its place, 0.13 for the summed-Gram output gone
black (0.19 with ReLU taps, gone white), 0.43 for the untrained generator's output, 0.54 to 0.58 for the default's
outputs at 256x256 (torch, and both backends' in docs/photoreal.md's figure). STRUCTURE_MIN = 0.25 lies between the
drifted outputs and the lowest usable one.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

MEAN_RANGE, CLIPPED_MAX, STRUCTURE_MIN = (0.2, 0.8), 0.05, 0.25
STRUCTURE_SIDE = 64  # the longer side, in pixels, at which edges are compared


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of (H, W, 3) pixels in [0, 1]."""
    return rgb @ np.array([0.299, 0.587, 0.114])


def sobel_magnitude(gray: np.ndarray) -> np.ndarray:
    """|Sobel gradient| of a 2-D array at its interior pixels."""
    p = np.pad(gray, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return np.hypot(gx, gy)[1:-1, 1:-1]


def coarse_edges(img: Image.Image) -> np.ndarray:
    """Sobel edge magnitudes of the luminance of img box-filtered to STRUCTURE_SIDE on its longer side, flattened."""
    w, h = img.size
    scale = min(1.0, STRUCTURE_SIDE / max(w, h))
    small = img.convert("RGB").resize((max(3, round(w * scale)), max(3, round(h * scale))), Image.Resampling.BOX)
    return sobel_magnitude(luminance(np.asarray(small, np.float64) / 255)).ravel()


def structure(image: Image.Image, content: Image.Image) -> float:
    """Correlation of the coarse edges of image with those of content (resized to image's size, PIL bilinear)."""
    content = content.convert("RGB").resize(image.size, Image.Resampling.BILINEAR)
    edges = [coarse_edges(a) for a in (image, content)]
    if min(e.std() for e in edges) == 0:  # no edges at all: no correlation
        return 0.0
    return float(np.corrcoef(*edges)[0, 1])


def measures(image: Image.Image, content: Image.Image) -> dict[str, float]:
    """The mean pixel value, the share of clipped pixels and the structure kept from content, of image."""
    out = np.asarray(image.convert("RGB"), np.float64) / 255
    return {
        "mean": float(out.mean()),
        "clipped": float(np.mean(np.any((out == 0) | (out == 1), axis=-1))),
        "structure": structure(image, content),
    }


def failures(m: dict[str, float]) -> list[str]:
    """The measures of m outside their bounds: [] for a usable picture."""
    bad = []
    if not MEAN_RANGE[0] <= m["mean"] <= MEAN_RANGE[1]:
        bad.append("mean")
    if m["clipped"] >= CLIPPED_MAX:
        bad.append("clipped")
    if m["structure"] < STRUCTURE_MIN:
        bad.append("structure")
    return bad
