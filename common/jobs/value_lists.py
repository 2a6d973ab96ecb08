"""Kinds of value that are lists: several files, several numbers, an image size, VGG-19 layers (values.py has the
base and the single values)."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Any

from ..core import layers
from ..core.errors import UserError
from .values import MIN_SIDE, Int, Kind, Number, is_int, is_number, number


def numbers(text: str) -> tuple[float, ...]:
    """Comma-separated numbers: '0.25,0.5,1'."""
    try:
        return tuple(float(item) for item in text.split(",") if item.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from e


def layer_list(text: str) -> tuple[str, ...]:
    """Layers by name or index, comma-separated: 'conv1_1,relu4_2' or '0,5,10'."""
    try:
        return layers.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


@dataclass(frozen=True, kw_only=True)
class Files(Kind):
    """One or more paths; in a manifest cell separated by ';'."""

    def check(self, flag: str, value: Any) -> None:
        """UserError unless non-empty paths (an empty one names no file: not the current folder); none given: the
        bundled sample."""
        if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{flag} must be {self.describe()}, not {value!r}")
        if not all(v.strip() for v in value):
            raise UserError(f"{flag} is empty: give a value, or leave the flag out")

    def from_text(self, text: str) -> tuple[str, ...]:
        """Paths separated by ';'."""
        return tuple(v.strip() for v in text.split(";") if v.strip())

    def from_json(self, flag: str, value: Any) -> Any:
        """A path or a list of paths."""
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise UserError(f"{flag} must be a path or a list of paths, not {value!r}")

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        return {"nargs": "+", "metavar": "IMAGE"}

    def describe(self) -> str:
        """What the kind is."""
        return "one or more image paths"

    def schema(self) -> dict[str, Any]:
        """A list of paths."""
        return {"type": "array", "items": {"type": "string"}}


@dataclass(frozen=True, kw_only=True)
class Numbers(Kind):
    """A list of numbers (each positive, or >= 0 with ``zero``): several values of a flag, or 'S,S,...'."""

    zero: bool = False
    comma: bool = False  # one flag value, comma-separated (--scales 0.5,1), instead of several (--style-weights 1 2)
    metavar: str = "W"
    scales: bool = False  # fractions of the result's size, coarse to fine: each at most 1, the last 1

    def check(self, flag: str, value: Any) -> None:
        """UserError unless every item is in range."""
        if not isinstance(value, (tuple, list)):
            raise UserError(f"{flag} must be a list of numbers, not {value!r}")
        for item in value:
            Number(zero=self.zero, maximum=1 if self.scales else None).check(flag, item)
        if self.scales and value and value[-1] != 1:
            shown = ",".join(f"{v:g}" for v in value)
            raise UserError(
                f"{flag} {shown}: the last stage must be at scale 1, the result's size; stages go coarse to fine, "
                "e.g. 0.25,0.5,1"
            )

    def from_text(self, text: str) -> tuple[float, ...]:
        """Numbers separated by spaces, commas or ';'."""
        return tuple(float(v) for v in re.split(r"[\s,;]+", text) if v)

    def json_type_ok(self, value: Any) -> bool:
        """A JSON list of numbers."""
        return isinstance(value, list) and all(is_number(v) for v in value)

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        if self.comma:
            return {"type": numbers, "metavar": self.metavar}
        return {"nargs": "+", "type": number, "metavar": self.metavar}

    def describe(self) -> str:
        """What the kind is."""
        return "a list of numbers"

    def schema(self) -> dict[str, Any]:
        """A list of numbers."""
        return {"type": "array", "items": {"type": "number"}}


@dataclass(frozen=True, kw_only=True)
class Size(Kind):
    """An image size, H W: two integers of at least 16."""

    def check(self, flag: str, value: Any) -> None:
        """UserError unless two integers of at least 16."""
        check_size(value)

    def from_text(self, text: str) -> tuple[int, ...]:
        """'H W' or 'HxW'."""
        return tuple(int(v) for v in re.split(r"[\sx,;]+", text.lower()) if v)

    def json_type_ok(self, value: Any) -> bool:
        """A JSON list of two integers."""
        return isinstance(value, list) and len(value) == 2 and all(is_int(v) for v in value)

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        return {"nargs": 2, "type": int, "metavar": ("H", "W")}

    def describe(self) -> str:
        """What the kind is."""
        return f"two integers H W, each at least {MIN_SIDE}"

    def schema(self) -> dict[str, Any]:
        """Two integers."""
        side = {"type": "integer", "minimum": MIN_SIDE}
        return {"type": "array", "items": side, "minItems": 2, "maxItems": 2}


@dataclass(frozen=True, kw_only=True)
class Layers(Kind):
    """VGG-19 layers by name or feature index."""

    def check(self, flag: str, value: Any) -> None:
        """UserError unless every item names a layer."""
        if not isinstance(value, (tuple, list)):
            raise UserError(f"{flag} must be a list of layers, not {value!r}")
        try:
            layers.resolve_all(value)
        except ValueError as e:
            raise UserError(str(e)) from e

    def from_text(self, text: str) -> tuple[str, ...]:
        """Names or indices separated by commas or ';'."""
        return layers.parse(text.replace(";", ","))

    def json_type_ok(self, value: Any) -> bool:
        """A JSON list of names or indices."""
        return isinstance(value, list) and all(isinstance(v, str) or is_int(v) for v in value)

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        return {"type": layer_list, "metavar": "LAYERS"}

    def describe(self) -> str:
        """What the kind is."""
        return "VGG-19 layers by name (conv1_1 ... pool5) or feature index, comma-separated"

    def schema(self) -> dict[str, Any]:
        """A list of names or indices."""
        return {"type": "array", "items": {"type": ["string", "integer"]}}


def check_size(size: Any) -> tuple[int, int]:
    """(H, W) if both are integers of at least 16, else UserError."""
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise UserError(f"--size takes two numbers, H W; got {size}")
    for name, value in (("--size H", size[0]), ("--size W", size[1])):
        Int(side=True).check(name, value)
    return int(size[0]), int(size[1])
