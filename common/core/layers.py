"""VGG-19 ``features``: the 37 layers, their names (conv1_1 ... pool5) and their indices (0 ... 36).

Indices are those of torchvision's ``vgg19().features`` and of Gluon's ``vgg19().features[:37]``; both libraries
number the layers the same way, which is what lets one weight file serve both backends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Channels per conv layer, "M" for a 2x2 pooling layer (VGG configuration "E").
VGG19_CFG: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)


@dataclass(frozen=True)
class Layer:
    """One layer of VGG-19 ``features``."""

    index: int
    name: str
    kind: str  # "conv", "relu" or "pool"
    in_channels: int
    out_channels: int


def _build() -> tuple[Layer, ...]:
    layers: list[Layer] = []
    block, depth, channels = 1, 0, 3
    for v in VGG19_CFG:
        if v == "M":
            layers.append(Layer(len(layers), f"pool{block}", "pool", channels, channels))
            block, depth = block + 1, 0
            continue
        depth += 1
        layers.append(Layer(len(layers), f"conv{block}_{depth}", "conv", channels, int(v)))
        layers.append(Layer(len(layers), f"relu{block}_{depth}", "relu", int(v), int(v)))
        channels = int(v)
    return tuple(layers)


VGG19: tuple[Layer, ...] = _build()
BY_NAME: dict[str, Layer] = {layer.name: layer for layer in VGG19}
NAMES: tuple[str, ...] = tuple(layer.name for layer in VGG19)
CONV_LAYERS: tuple[Layer, ...] = tuple(layer for layer in VGG19 if layer.kind == "conv")


def resolve(spec: str | int) -> Layer:
    """The layer a name ('conv4_2') or a feature index (25, '25') designates; ValueError otherwise."""
    key = spec.strip() if isinstance(spec, str) else spec
    if isinstance(key, str) and key.lstrip("-").isdigit():
        key = int(key)
    if isinstance(key, int) and not isinstance(key, bool):
        if 0 <= key < len(VGG19):
            return VGG19[key]
        raise ValueError(f"layer index {key} is outside VGG-19 features (0 to {len(VGG19) - 1})")
    if isinstance(key, str) and key.lower() in BY_NAME:
        return BY_NAME[key.lower()]
    raise ValueError(
        f"unknown layer {spec!r}: use conv1_1 ... conv5_4, relu1_1 ... relu5_4, pool1 ... pool5 "
        f"or a feature index 0 to {len(VGG19) - 1}"
    )


def resolve_all(specs: Iterable[str | int]) -> tuple[str, ...]:
    """Names for a list of names or indices, in the given order, duplicates removed."""
    names: list[str] = []
    for spec in specs:
        name = resolve(spec).name
        if name not in names:
            names.append(name)
    return tuple(names)


def parse(text: str) -> tuple[str, ...]:
    """Names for a comma-separated list such as 'conv1_1,relu2_1' or '0,5,10,19,28'."""
    items = [item for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("empty layer list: name at least one layer, e.g. conv4_2")
    return resolve_all(items)


def deepest(names: Iterable[str]) -> Layer:
    """The deepest of the named layers: the network is cut after it."""
    return max((BY_NAME[name] for name in names), key=lambda layer: layer.index)


def taps(names: Iterable[str], depth: int) -> dict[int, str]:
    """{feature index: name} of the named layers; ValueError if one is deeper than a net of ``depth`` layers."""
    found = {BY_NAME[name].index: name for name in names}
    if max(found) >= depth:
        raise ValueError(f"layer {VGG19[max(found)].name} is deeper than the net ({depth} layers)")
    return found


def min_side(last: Layer) -> int:
    """The smallest image side whose feature map at layer ``last`` is not empty: 2 ** (poolings up to it)."""
    return 2 ** sum(1 for layer in VGG19[: last.index + 1] if layer.kind == "pool")


def conv_param_names(upto: Layer | None = None) -> list[str]:
    """Weight-dict keys ('features.N.weight', 'features.N.bias') of the conv layers up to a layer."""
    last = len(VGG19) - 1 if upto is None else upto.index
    return [f"features.{c.index}.{p}" for c in CONV_LAYERS if c.index <= last for p in ("weight", "bias")]


def param_shape(key: str) -> tuple[int, ...]:
    """The shape VGG-19 expects for a conv weight-dict key."""
    _, index, kind = key.split(".")
    layer = VGG19[int(index)]
    if kind == "weight":
        return (layer.out_channels, layer.in_channels, 3, 3)
    return (layer.out_channels,)


def feature_sizes(size: tuple[int, int], upto: Layer) -> list[tuple[Layer, int, int]]:
    """(layer, height, width) of each layer's output up to ``upto``, for an input of size (H, W)."""
    h, w = size
    out = []
    for layer in VGG19[: upto.index + 1]:
        if layer.kind == "pool":
            h, w = h // 2, w // 2
        out.append((layer, h, w))
    return out
