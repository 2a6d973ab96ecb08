"""The kinds of value a setting can take, each knowing its own reading, checking and description.

One kind serves every way a value arrives: a command-line flag (argparse), a manifest cell or a --grid value (text),
a JSON value (a JSON Lines manifest, the web page's API), and what the documentation and the page's form say of it.
So a value is read one way whatever its source, and refused with the same line. Range checks are the kind's; checks
that involve two settings are Settings.validated's.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import UserError

MIN_SIDE = 16  # the smallest image side any run accepts (images.MIN_SIDE)
MAX_SIDE = 16384  # the largest: a 16384x16384 run needs hundreds of GiB; larger sides overflow image libraries
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: Any) -> bool:
    """An int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def number(text: str) -> float:
    """A number from text (argparse's type for a number flag)."""
    try:
        return float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from e


@dataclass(frozen=True, kw_only=True)
class Kind:
    """A kind of value. ``optional``: None is a value of it ("not given")."""

    optional: bool = False

    def check(self, flag: str, value: Any) -> None:
        """UserError naming the flag when the value is out of the kind's range."""

    def from_text(self, text: str) -> Any:
        """The value a manifest cell or a --grid value stands for; ValueError if it is none."""
        return text

    def read(self, flag: str, text: str) -> Any:
        """from_text, or UserError naming the flag."""
        try:
            return self.from_text(text.strip())
        except ValueError as e:
            raise UserError(f"{flag}: cannot read {text.strip()!r} ({e})") from e

    def from_json(self, flag: str, value: Any) -> Any:
        """The value a JSON value stands for (lists become tuples); UserError naming the flag for a wrong type."""
        if isinstance(value, str):
            return self.read(flag, value)
        if self.optional and value is None:
            return None
        if not self.json_type_ok(value):
            raise UserError(f"{flag} must be {self.describe()}, not {value!r}")
        return tuple(value) if isinstance(value, list) else value

    def json_type_ok(self, value: Any) -> bool:
        """Whether a JSON value that is not text has this kind's type."""
        return False

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        return {}

    def describe(self) -> str:
        """What the kind is, for messages and the documentation."""
        return "a text"

    def schema(self) -> dict[str, Any]:
        """A JSON schema of the value (the page's form, the API's documentation)."""
        return {"type": "string"}


@dataclass(frozen=True, kw_only=True)
class Text(Kind):
    """Any text but an empty one: a path, a name (checked elsewhere)."""

    metavar: str | None = None

    def check(self, flag: str, value: Any) -> None:
        """UserError unless a non-empty text (an empty path names no file: it is not "not given")."""
        if not isinstance(value, str):
            raise UserError(f"{flag} must be a text, not {value!r}")
        if not value.strip():
            raise UserError(f"{flag} is empty: give a value, or leave the flag out")

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        return {"metavar": self.metavar} if self.metavar else {}


@dataclass(frozen=True, kw_only=True)
class Int(Kind):
    """An integer of at least ``minimum``; ``side``: an image side (at least 16 pixels)."""

    minimum: int = 1
    side: bool = False
    metavar: str | None = None

    def check(self, flag: str, value: Any) -> None:
        """UserError unless an integer in range."""
        if not is_int(value) or value < self.minimum:
            what = "a positive integer" if self.minimum == 1 else "a non-negative integer"
            raise UserError(f"{flag} must be {what}, not {value!r}")
        if self.side and value < MIN_SIDE:
            raise UserError(f"{flag} is {value}; sizes need at least {MIN_SIDE} pixels")
        if self.side and value > MAX_SIDE:
            raise UserError(f"{flag} is {value}; a side is at most {MAX_SIDE} pixels")

    def from_text(self, text: str) -> int:
        """An integer."""
        return int(text)

    def json_type_ok(self, value: Any) -> bool:
        """A JSON integer."""
        return is_int(value)

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        return {"type": int, **({"metavar": self.metavar} if self.metavar else {})}

    def describe(self) -> str:
        """What the kind is."""
        low = f"at least {MIN_SIDE}" if self.side else ("positive" if self.minimum == 1 else "non-negative")
        return f"an integer, {low}"

    def schema(self) -> dict[str, Any]:
        """An integer in range."""
        low = {"minimum": max(self.minimum, MIN_SIDE if self.side else self.minimum)}
        return {"type": "integer", **low, **({"maximum": MAX_SIDE} if self.side else {})}


@dataclass(frozen=True, kw_only=True)
class Number(Kind):
    """A finite number: positive (or >= 0 with ``zero``), at most ``maximum`` if given."""

    zero: bool = False
    maximum: float | None = None
    too_large: str = ""  # what a message says of a value above the maximum
    metavar: str | None = None

    def check(self, flag: str, value: Any) -> None:
        """UserError unless a finite number in range."""
        if self.zero and (not is_number(value) or value < 0):
            raise UserError(f"{flag} must be a finite number >= 0, not {value!r}")
        if not self.zero and (not is_number(value) or value <= 0):
            raise UserError(f"{flag} must be a positive finite number, not {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise UserError(f"{flag} is {value}; {self.too_large or f'it is at most {self.maximum:g}'}")

    def from_text(self, text: str) -> float:
        """A number."""
        return float(text)

    def json_type_ok(self, value: Any) -> bool:
        """A JSON number."""
        return is_number(value)

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        return {"type": number, **({"metavar": self.metavar} if self.metavar else {})}

    def describe(self) -> str:
        """What the kind is."""
        return "a number >= 0" if self.zero else "a positive number"

    def schema(self) -> dict[str, Any]:
        """A number in range."""
        bound = {"minimum": 0} if self.zero else {"exclusiveMinimum": 0}
        return {"type": "number", **bound, **({"maximum": self.maximum} if self.maximum is not None else {})}


@dataclass(frozen=True, kw_only=True)
class Choice(Kind):
    """One of a few names (``choices``; a callable gives them when the module that holds them cannot be imported)."""

    options: Sequence[str] | Callable[[], Sequence[str]] = ()
    metavar: str | None = None
    argparse_choices: bool = True

    def names(self) -> tuple[str, ...]:
        """The allowed names."""
        return tuple(self.options() if callable(self.options) else self.options)

    def check(self, flag: str, value: Any) -> None:
        """UserError unless one of the names."""
        if value not in self.names():
            raise UserError(f"{flag} must be one of {', '.join(self.names())}, not {value!r}")

    def json_type_ok(self, value: Any) -> bool:
        """Text only (read by from_text)."""
        return False

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        out: dict[str, Any] = {"choices": self.names()} if self.argparse_choices else {}
        return {**out, **({"metavar": self.metavar} if self.metavar else {})}

    def describe(self) -> str:
        """What the kind is."""
        return "one of " + ", ".join(self.names())

    def schema(self) -> dict[str, Any]:
        """One of the names."""
        return {"type": "string", "enum": list(self.names())}


@dataclass(frozen=True, kw_only=True)
class KeywordOrPath(Kind):
    """One of a few keywords, or a file's path (``--init noise``, ``--weights random``, ``--weights vgg.pth``)."""

    keywords: tuple[str, ...] = ()
    what: str = "a path"
    metavar: str | None = None

    def is_path(self, value: Any) -> bool:
        """Whether the value names a file rather than a keyword."""
        return bool(value) and value not in self.keywords

    def check(self, flag: str, value: Any) -> None:
        """UserError unless a keyword or a non-empty path."""
        if not isinstance(value, str) or not value:
            raise UserError(f"{flag} must be {', '.join(self.keywords)} or {self.what}, not {value!r}")

    def parser(self) -> dict[str, Any]:
        """argparse keywords for the flag."""
        return {"metavar": self.metavar or "|".join((*self.keywords, "PATH"))}

    def describe(self) -> str:
        """What the kind is."""
        return f"{', '.join(self.keywords)} or {self.what}"

    def schema(self) -> dict[str, Any]:
        """A keyword (a client names no file)."""
        return {"type": "string", "enum": list(self.keywords)}


@dataclass(frozen=True, kw_only=True)
class Switch(Kind):
    """On or off: --flag / --no-flag; in a manifest true/false (1/0, yes/no, on/off)."""

    def check(self, flag: str, value: Any) -> None:
        """UserError unless true or false."""
        if not isinstance(value, bool):
            raise UserError(f"{flag} must be true or false, not {value!r}")

    def from_text(self, text: str) -> bool:
        """true/false and their spellings."""
        if text.strip().lower() not in TRUE + FALSE:
            raise ValueError("give true or false")
        return text.strip().lower() in TRUE

    def read(self, flag: str, text: str) -> bool:
        """from_text, or UserError naming the flag."""
        if text.strip().lower() not in TRUE + FALSE:
            raise UserError(f"{flag} must be true or false, not {text.strip()!r}")
        return text.strip().lower() in TRUE

    def from_json(self, flag: str, value: Any) -> Any:
        """A JSON true or false only: text such as "no" is no switch."""
        if not isinstance(value, bool):
            raise UserError(f"{flag} must be true or false, not {value!r}")
        return value

    def describe(self) -> str:
        """What the kind is."""
        return "true or false"

    def schema(self) -> dict[str, Any]:
        """A boolean."""
        return {"type": "boolean"}


@dataclass(frozen=True, kw_only=True)
class Flag(Switch):
    """A switch that is only ever turned on (--quiet)."""
