"""The photorealistic generator of "High-Resolution Network for Photorealistic Style Transfer" (arXiv 1904.11617),
framework-free: its wiring as data and seeded weights drawn in numpy (its model file: common/jobs/models.py).

The document (004_5aaa351b94d2f6c0.txt) wires HRNet from Bottleneck blocks and strided convolutions; each backend
builds the same network from the same arrays (backends/<name>/generator.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UserError

MULTIPLE = 4  # the generator downsamples twice (and once by 4): both sides must be divisible by 4


@dataclass(frozen=True)
class Block:
    """One named layer of the generator: a Bottleneck block or a plain 3x3 convolution (padding 1)."""

    name: str
    kind: str  # "bottleneck" or "conv"
    in_channels: int
    out_channels: int
    stride: int = 1


# The document's HRNet.__init__, in its order.
BLOCKS: tuple[Block, ...] = (
    Block("layer1_1", "bottleneck", 3, 16),
    Block("layer2_1", "bottleneck", 16, 32),
    Block("downsample2_1", "conv", 16, 32, 2),
    Block("layer3_1", "bottleneck", 32, 32),
    Block("layer3_2", "bottleneck", 32, 32),
    Block("downsample3_1", "conv", 32, 32, 2),
    Block("downsample3_2", "conv", 32, 32, 4),
    Block("downsample3_3", "conv", 32, 32, 2),
    Block("layer4_1", "bottleneck", 64, 64),
    Block("layer5_1", "bottleneck", 192, 64),
    Block("layer6_1", "bottleneck", 64, 32),
    Block("layer7_1", "bottleneck", 32, 16),
    Block("layer8_1", "conv", 16, 3, 1),
)
BY_NAME = {b.name: b for b in BLOCKS}


def convs(block: Block) -> list[tuple[str, int, int, int]]:
    """The convolutions of a block as (parameter prefix, in, out, kernel size).

    A Bottleneck block: 1x1 to out/4, 3x3, 1x1 to out (each followed by InstanceNorm and ReLU), and a 1x1
    shortcut (followed by InstanceNorm) only when the channel counts differ: the document's forward never uses
    the shortcut otherwise, so its parameters are not part of the model.
    """
    if block.kind == "conv":
        return [(block.name, block.in_channels, block.out_channels, 3)]
    mid = block.out_channels // 4
    out = [
        (f"{block.name}.conv1", block.in_channels, mid, 1),
        (f"{block.name}.conv2", mid, mid, 3),
        (f"{block.name}.conv3", mid, block.out_channels, 1),
    ]
    if block.in_channels != block.out_channels:
        out.append((f"{block.name}.shortcut", block.in_channels, block.out_channels, 1))
    return out


def param_shapes() -> dict[str, tuple[int, ...]]:
    """Every parameter's canonical name and shape ('layer1_1.conv1.weight': (4, 3, 1, 1), ...)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for block in BLOCKS:
        for prefix, cin, cout, k in convs(block):
            shapes[f"{prefix}.weight"] = (cout, cin, k, k)
            shapes[f"{prefix}.bias"] = (cout,)
    return shapes


def random_generator(seed: int) -> dict[str, np.ndarray]:
    """Seeded float32 weights, torch's default Conv2d initialization (uniform in +-1/sqrt(fan_in)), in numpy.

    Each convolution draws from its own child of SeedSequence(seed): identical numbers in every backend.
    """
    shapes = param_shapes()
    weights = [name for name in shapes if name.endswith(".weight")]
    children = np.random.SeedSequence([seed, 1904]).spawn(len(weights))
    out: dict[str, np.ndarray] = {}
    for name, child in zip(weights, children, strict=True):
        rng = np.random.Generator(np.random.PCG64(child))
        shape = shapes[name]
        bound = 1.0 / np.sqrt(shape[1] * shape[2] * shape[3])
        out[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
        bias = name.removesuffix(".weight") + ".bias"
        out[bias] = rng.uniform(-bound, bound, shapes[bias]).astype(np.float32)
    return out


def check_arrays(arrays: dict[str, np.ndarray], origin: str) -> dict[str, np.ndarray]:
    """The generator's arrays, checked for names, shapes and finite values; UserError naming what is wrong."""
    shapes = param_shapes()
    missing = [k for k in shapes if k not in arrays]
    extra = [k for k in arrays if k not in shapes]
    if missing or extra:
        what = f"lacks {missing[0]}" if missing else f"has an unknown array {extra[0]}"
        raise UserError(f"{origin} {what}: it is not this project's HRNet generator")
    for key, shape in shapes.items():
        a = np.asarray(arrays[key])
        if a.shape != shape:
            raise UserError(f"{origin}: {key} has shape {a.shape}, the generator needs {shape}")
        if not np.issubdtype(a.dtype, np.floating) or not np.all(np.isfinite(a)):
            raise UserError(f"{origin}: {key} is not finite floating-point data")
    return {k: np.asarray(arrays[k]) for k in shapes}


def check_size(size: tuple[int, int], what: str) -> None:
    """UserError unless both sides are divisible by 4 (the generator's two downsamplings must upsample back)."""
    if size[0] % MULTIPLE or size[1] % MULTIPLE:
        raise UserError(
            f"{what} is {size[0]}x{size[1]}: the HRNet generator needs both sides divisible by {MULTIPLE} "
            f"(e.g. {size[0] // MULTIPLE * MULTIPLE}x{size[1] // MULTIPLE * MULTIPLE})"
        )
