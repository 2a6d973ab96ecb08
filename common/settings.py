"""Every setting of a style-transfer run, its default (the d2l PyTorch recipe) and its validation."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from . import layers
from .errors import UserError
from .registry import check_name

D2L_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")  # feature indices 0, 5, 10, 19, 28
D2L_CONTENT_LAYERS = ("conv4_4",)  # feature index 25


@dataclass(frozen=True)
class Settings:
    """One run's settings; defaults are the d2l PyTorch recipe (300x450, 500 steps, Adam lr 0.3)."""

    backend: str = "torch"
    content: str | None = None  # None: the bundled sample image
    style: str | None = None
    output: str = "stylized.png"
    size: tuple[int, int] = (300, 450)  # (H, W)
    steps: int = 500
    lr: float = 0.3
    lr_decay_every: int = 50
    lr_decay_factor: float = 0.8
    content_weight: float = 1.0
    style_weight: float = 1e4
    tv_weight: float = 10.0
    content_layers: tuple[str, ...] = D2L_CONTENT_LAYERS
    style_layers: tuple[str, ...] = D2L_STYLE_LAYERS
    pooling: str = "max"
    init: str = "content"
    seed: int = 0
    device: str = "cpu"
    weights: str = "auto"
    dtype: str = "float32"
    log: str | None = None
    plot: str | None = None
    save_every: int = 0
    quiet: bool = False

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-friendly values."""
        d = asdict(self)
        d["size"] = list(self.size)
        d["content_layers"], d["style_layers"] = list(self.content_layers), list(self.style_layers)
        return d

    def validated(self) -> Settings:
        """The same settings with layer names resolved, or UserError naming the first bad value."""
        try:
            check_name(self.backend)
        except ValueError as e:
            raise UserError(str(e)) from e
        check_size(self.size)
        _positive_int("--steps", self.steps)
        _positive_int("--lr-decay-every", self.lr_decay_every)
        _positive_number("--lr", self.lr)
        _positive_number("--lr-decay-factor", self.lr_decay_factor)
        if self.lr_decay_factor > 1:
            raise UserError(f"--lr-decay-factor is {self.lr_decay_factor}; a decay factor is at most 1")
        for flag in ("content_weight", "style_weight", "tv_weight"):
            _non_negative_number("--" + flag.replace("_", "-"), getattr(self, flag))
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise UserError(f"--seed must be a non-negative integer, not {self.seed!r}")
        if not isinstance(self.save_every, int) or self.save_every < 0:
            raise UserError(f"--save-every must be a non-negative integer, not {self.save_every!r}")
        for flag, value, allowed in (
            ("--pooling", self.pooling, ("max", "avg")),
            ("--init", self.init, ("content", "noise")),
            ("--dtype", self.dtype, ("float32", "float64")),
        ):
            if value not in allowed:
                raise UserError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")
        try:
            content_layers = layers.resolve_all(self.content_layers)
            style_layers = layers.resolve_all(self.style_layers)
        except ValueError as e:
            raise UserError(str(e)) from e
        if not style_layers and not content_layers:
            raise UserError("no content and no style layers: name at least one")
        deepest = layers.deepest(content_layers + style_layers)
        if min(self.size) < layers.min_side(deepest):
            raise UserError(
                f"--size {self.size[0]} {self.size[1]} is too small for layer {deepest.name}: "
                f"its feature map needs sides of at least {layers.min_side(deepest)} pixels"
            )
        return replace(self, content_layers=content_layers, style_layers=style_layers)


def check_size(size: Any) -> tuple[int, int]:
    """(H, W) if both are integers of at least 16, else UserError."""
    if len(size) != 2:
        raise UserError(f"--size takes two numbers, H W; got {size}")
    for name, value in (("--size H", size[0]), ("--size W", size[1])):
        _positive_int(name, value)
        if value < 16:
            raise UserError(f"{name} is {value}; sizes need at least 16 pixels")
    return int(size[0]), int(size[1])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_number(flag: str, value: Any) -> None:
    if not _is_number(value) or value <= 0:
        raise UserError(f"{flag} must be a positive finite number, not {value!r}")


def _non_negative_number(flag: str, value: Any) -> None:
    if not _is_number(value) or value < 0:
        raise UserError(f"{flag} must be a finite number >= 0, not {value!r}")


def _positive_int(flag: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise UserError(f"{flag} must be a positive integer, not {value!r}")


FIELD_NAMES = tuple(f.name for f in fields(Settings))
