"""Every setting of a style-transfer run, its default (the d2l recipe, common/core/recipe.py) and its validation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..core import layers
from ..core.errors import UserError
from ..core.photoreal_objective import GRAMS
from ..core.recipe import D2L
from ..core.registry import NAMES, check_name

OPTIMIZERS = ("adam", "lbfgs", "sgd")
PRECISIONS = ("fp32", "bf16", "fp16")
INITS = ("content", "noise", "style")  # or a path to an image
METHODS = ("gatys", "hrnet")  # optimize the image's pixels, or train the HRNet generator (common/core/hrnet.py)
POOLINGS = ("max", "avg")
DTYPES = ("float32", "float64")
# Output settings whose default is written None, meaning "not given": validated() fills the value in, and a resumed
# run takes the checkpoint's where none is given (a value equal to the default, given explicitly, is then kept).
UNSET_DEFAULTS = {"output": "stylized.png", "save_every": 0, "checkpoint_every": 50}


@dataclass(frozen=True)
class Stage:
    """One stage of a coarse-to-fine run: a fraction of the final size and, where set, its own schedule."""

    scale: float = 1.0
    steps: int | None = None  # None: the run's --steps
    lr: float | None = None
    lr_decay_every: int | None = None
    lr_decay_factor: float | None = None


@dataclass(frozen=True)
class Settings:
    """One run's settings; defaults are the d2l PyTorch recipe (300x450, 500 steps, Adam lr 0.3)."""

    backend: str = NAMES[0]
    method: str = D2L["method"]  # gatys: optimize the pixels; hrnet: train a generator network (nst photoreal)
    content: str | None = None  # None: the bundled sample image
    style: tuple[str, ...] = ()  # one or more style images; empty: the bundled sample
    style_weights: tuple[float, ...] = ()  # blend weights of the style images; empty: equal
    style_scale: float | None = D2L["style_scale"]  # None: each style image resized to the content's size (d2l)
    style_max_side: int | None = D2L["style_max_side"]  # hrnet: the style image at its own size, longer side capped
    style_gram: str = D2L["style_gram"]  # hrnet: "per-pixel", or "sum" (document 004's code; drifts, see README)
    style_layer_weights: tuple[float, ...] = D2L["style_layer_weights"]  # one per style layer; empty: all 1
    output: str | None = None  # None: stylized.png (a resumed run: the checkpoint's)
    size: tuple[int, int] | None = None  # (H, W); None: from --max-side / --min-side, else 300 x 450
    max_side: int | None = D2L["max_side"]
    min_side: int | None = D2L["min_side"]
    scales: tuple[float, ...] = D2L["scales"]
    stages: tuple[Stage, ...] = D2L["stages"]  # set by presets; overrides scales
    steps: int = D2L["steps"]
    optimizer: str = D2L["optimizer"]
    lr: float = D2L["lr"]
    lr_decay_every: int = D2L["lr_decay_every"]
    lr_decay_factor: float = D2L["lr_decay_factor"]
    content_weight: float = D2L["content_weight"]
    style_weight: float = D2L["style_weight"]
    tv_weight: float = D2L["tv_weight"]
    content_layers: tuple[str, ...] = D2L["content_layers"]
    style_layers: tuple[str, ...] = D2L["style_layers"]
    pooling: str = D2L["pooling"]
    normalize: bool = D2L["normalize"]  # ImageNet mean/std; False feeds [0, 1] pixels (the Mastering PyTorch chapter)
    clamp: bool = D2L["clamp"]  # clamp the image to valid pixels before every step
    init: str = D2L["init"]  # content, noise, style, or an image path
    preserve_colors: bool = False
    seed: int = 0
    device: str = "cpu"
    weights: str = "auto"
    dtype: str = "float32"
    precision: str = "fp32"  # the network's arithmetic: fp32, or bf16/fp16 (a float32 run's fast mode)
    log: str | None = None
    plot: str | None = None
    save_every: int | None = None  # None: 0, no frames (a resumed run: the checkpoint's)
    gif: str | None = None
    checkpoint: str | None = None
    checkpoint_every: int | None = None  # None: 50 (a resumed run: the checkpoint's)
    resume: str | None = None
    save_model: str | None = None  # hrnet: write the trained generator here (.npz), for nst apply
    preset: str | None = None
    quiet: bool = False

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-friendly values."""
        d = asdict(self)
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        d["stages"] = [asdict(stage) for stage in self.stages]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Settings:
        """Settings from as_dict's output (a run record or checkpoint)."""
        values = {k: v for k, v in d.items() if k in FIELD_NAMES}
        for key, value in values.items():
            if isinstance(value, list) and key != "stages":
                values[key] = tuple(value)
        values["stages"] = tuple(Stage(**stage) for stage in d.get("stages", ()))
        return cls(**values)

    def run_stages(self) -> tuple[Stage, ...]:
        """The stages this run goes through, each with every value filled in."""
        stages = self.stages or tuple(Stage(scale=s) for s in self.scales)
        return tuple(
            Stage(
                scale=st.scale,
                steps=self.steps if st.steps is None else st.steps,
                lr=self.lr if st.lr is None else st.lr,
                lr_decay_every=self.lr_decay_every if st.lr_decay_every is None else st.lr_decay_every,
                lr_decay_factor=self.lr_decay_factor if st.lr_decay_factor is None else st.lr_decay_factor,
            )
            for st in stages
        )

    def validated(self) -> Settings:
        """The same settings with names resolved and lists normalized, or UserError naming the first bad value."""
        try:
            check_name(self.backend)
        except ValueError as e:
            raise UserError(str(e)) from e
        s = replace(self, **{k: v for k, v in UNSET_DEFAULTS.items() if getattr(self, k) is None})
        if isinstance(s.style, str):
            s = replace(s, style=(s.style,))
        if s.size is not None:
            s = replace(s, size=check_size(s.size))
        if s.size is not None and (s.max_side is not None or s.min_side is not None):
            raise UserError("give --size or --max-side/--min-side, not both")
        if s.max_side is not None and s.min_side is not None:
            raise UserError("give --max-side or --min-side, not both: each sets the size from the content image")
        _check_numbers(s)
        _check_choices(s)
        try:
            content_layers = layers.resolve_all(s.content_layers)
            style_layers = layers.resolve_all(s.style_layers)
        except ValueError as e:
            raise UserError(str(e)) from e
        if not style_layers and not content_layers:
            raise UserError("no content and no style layers: name at least one")
        _weights_list("--style-weights", s.style_weights, len(s.style) or 1, "style images")
        _weights_list("--style-layer-weights", s.style_layer_weights, len(style_layers), "style layers")
        _check_stages(s)
        return replace(s, content_layers=content_layers, style_layers=style_layers)


def _check_numbers(s: Settings) -> None:
    """UserError naming the first numeric setting out of its range."""
    for flag, value in (("--max-side", s.max_side), ("--min-side", s.min_side)):
        if value is not None:
            _positive_int(flag, value)
            if value < 16:
                raise UserError(f"{flag} is {value}; sizes need at least 16 pixels")
    _positive_int("--steps", s.steps)
    _positive_int("--lr-decay-every", s.lr_decay_every)
    _positive_int("--checkpoint-every", s.checkpoint_every)
    _positive_number("--lr", s.lr)
    _decay_factor(s.lr_decay_factor)
    for flag in ("content_weight", "style_weight", "tv_weight"):
        _non_negative_number("--" + flag.replace("_", "-"), getattr(s, flag))
    if s.style_scale is not None:
        _positive_number("--style-scale", s.style_scale)
    if s.style_max_side is not None:
        _positive_int("--style-max-side", s.style_max_side)
        if s.style_max_side < 16:
            raise UserError(f"--style-max-side is {s.style_max_side}; sizes need at least 16 pixels")
    if not isinstance(s.seed, int) or isinstance(s.seed, bool) or s.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, not {s.seed!r}")
    if not isinstance(s.save_every, int) or s.save_every < 0:
        raise UserError(f"--save-every must be a non-negative integer, not {s.save_every!r}")


def _check_choices(s: Settings) -> None:
    """UserError naming the first setting that is not one of its choices."""
    for flag, value, allowed in (
        ("--pooling", s.pooling, POOLINGS),
        ("--dtype", s.dtype, DTYPES),
        ("--optimizer", s.optimizer, OPTIMIZERS),
        ("--precision", s.precision, PRECISIONS),
        ("--style-gram", s.style_gram, GRAMS),
        ("method", s.method, METHODS),
    ):
        if value not in allowed:
            raise UserError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")
    if s.precision != "fp32" and s.dtype != "float32":
        raise UserError(
            f"--precision {s.precision} is a fast mode of float32 runs; it cannot go with --dtype {s.dtype}"
        )
    if not isinstance(s.init, str) or not s.init:
        raise UserError(f"--init must be content, noise, style or an image path, not {s.init!r}")


def _check_stages(s: Settings) -> None:
    """UserError for an empty --scales or a stage value out of range."""
    if not s.scales and not s.stages:
        raise UserError("--scales is empty: give at least one scale, e.g. 1")
    for scale in s.scales:
        _positive_number("--scales", scale)
    for stage in s.stages:
        _positive_number("stage scale", stage.scale)
        if stage.steps is not None:
            _positive_int("stage steps", stage.steps)
        if stage.lr is not None:
            _positive_number("stage lr", stage.lr)
        if stage.lr_decay_every is not None:
            _positive_int("stage lr_decay_every", stage.lr_decay_every)
        if stage.lr_decay_factor is not None:
            _decay_factor(stage.lr_decay_factor)


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


def _decay_factor(value: Any) -> None:
    _positive_number("--lr-decay-factor", value)
    if value > 1:
        raise UserError(f"--lr-decay-factor is {value}; a decay factor is at most 1")


def _weights_list(flag: str, values: Sequence[Any], expected: int, what: str) -> None:
    if not values:
        return
    if len(values) != expected:
        raise UserError(f"{flag} has {len(values)} values for {expected} {what}; give one per {what[:-1]}")
    for value in values:
        _non_negative_number(flag, value)
    if not any(values):
        raise UserError(f"{flag} are all zero")


FIELD_NAMES = tuple(f.name for f in fields(Settings))
