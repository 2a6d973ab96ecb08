"""The image as a Laplacian-style pyramid of parameters (a stage's ``levels``), framework-free.

With L levels the synthesized image is ``X = P0 + up(P1) + ... + up(P[L-1])``: P0 is full size, Pk has
ceil(h / 2^k) x ceil(w / 2^k) pixels and ``up`` is bilinear upsampling to full size. Every level is a parameter
of the same optimizer, so one Adam step moves structure of every size at once, not only a few pixels' worth
(measured in benchmarks/pyramid_stage.py; docs/speed.md). The upsampling is one fixed matrix product,
``A_k @ (Pk @ B_k^T)``, written here once and multiplied by each backend in that order, so the three frameworks
compute the same image; its matrices are those of torch's ``F.interpolate(mode="bilinear",
align_corners=False)``. One level is the documents' SynthesizedImage itself. The float64 references of the
image and its gradients are reference.pyramid_image and reference.pyramid_gradients.
"""

from __future__ import annotations

import math

import numpy as np

MAX_LEVELS = 8  # the coarsest level of an 8-level pyramid is 1/128 of the image


def level_shape(h: int, w: int, k: int) -> tuple[int, int]:
    """Level k's (height, width) for an h x w image: each side divided by 2^k, rounded up."""
    return math.ceil(h / 2**k), math.ceil(w / 2**k)


def upsampling(n_out: int, n_in: int) -> np.ndarray:
    """The (n_out, n_in) float64 matrix of bilinear upsampling along one axis, pixel centres aligned
    (align_corners=False): output i samples input position (i + 0.5) n_in / n_out - 0.5, clamped at 0."""
    M = np.zeros((n_out, n_in))
    scale = n_in / n_out
    for i in range(n_out):
        src = max((i + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(src), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        frac = src - i0
        M[i, i0] += 1.0 - frac
        M[i, i1] += frac
    return M


def matrices(h: int, w: int, levels: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each level k = 1 .. levels-1: (A_k, B_k^T), so that ``A_k @ Pk @ B_k^T`` is Pk upsampled to h x w."""
    out = []
    for k in range(1, levels):
        hk, wk = level_shape(h, w, k)
        out.append((upsampling(h, hk), upsampling(w, wk).T.copy()))
    return out
