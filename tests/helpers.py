"""Helpers the tests share: error measures and generated images."""

from __future__ import annotations

import numpy as np
from PIL import Image


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b|: a relative error that stays meaningful where b has zeros."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a - b).max())


def random_pixels(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Random uint8 (H, W, 3) pixels."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def smooth_image(h: int, w: int, seed: int = 0) -> Image.Image:
    """A photo-like RGB image: smooth colour gradients plus a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    phase = rng.uniform(0, 6.28, 3)
    img = np.stack([0.5 + 0.4 * np.sin(4 * x + 3 * y + p) for p in phase], axis=-1)
    img += rng.normal(0, 0.03, img.shape)
    return Image.fromarray(np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8))


def stylize_argv(backend: str | None, files, output, *extra: str, log=None) -> list[str]:
    """`nst stylize` arguments: the backend (None: the default or a preset's), content and style, the output,
    a run record if asked, then the extra flags (an extra flag given earlier replaces the earlier values)."""
    argv = ["stylize"] + (["--backend", backend] if backend else [])
    argv += ["--content", str(files[0]), "--style", str(files[1]), "--output", str(output)]
    argv += ["--log", str(log)] if log else []
    group: list[str] = []
    for word in [*extra, "--"]:
        if word.startswith("--") and group:
            argv = set_flag(argv, *group)
            group = []
        group.append(word)
    return argv


def conv_layout_errors() -> dict[str, float]:
    """Relative error of a float32 256-channel torch convolution against float64, in NCHW and in channels_last."""
    import torch

    rng = np.random.default_rng(0)
    x64 = torch.from_numpy(rng.standard_normal((1, 256, 20, 28)))
    w64 = torch.from_numpy(rng.standard_normal((256, 256, 3, 3)) * 0.03)
    exact = torch.nn.functional.conv2d(x64, w64, padding=1)
    errors = {}
    for name, fmt in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
        x, w = x64.float().contiguous(memory_format=fmt), w64.float().contiguous(memory_format=fmt)
        got = torch.nn.functional.conv2d(x, w, padding=1).double()
        errors[name] = float((got - exact).abs().max() / exact.abs().max())
    return errors


def set_flag(argv: list[str], flag: str, *values: str) -> list[str]:
    """argv with ``flag`` set to ``values``: in place of the flag's values where it is given, else appended
    (a single-valued flag given twice is refused, so a test changes it rather than repeating it)."""
    argv = list(argv)
    if flag not in argv:
        return [*argv, flag, *values]
    i = argv.index(flag)
    end = i + 1
    while end < len(argv) and not argv[end].startswith("--"):
        end += 1
    argv[i:end] = [flag, *values]
    return argv


def norm_inputs(offset: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Feature maps of 32 channels whose means are ``offset`` x N(0, 1) and spreads 0.1 to 2, and an output gradient."""
    rng = np.random.default_rng(seed)
    shape = (1, 32, 48, 64)
    X = offset * rng.standard_normal((1, 32, 1, 1)) + rng.standard_normal(shape) * rng.uniform(0.1, 2, (1, 32, 1, 1))
    return X.astype(np.float32), rng.standard_normal(shape)
