"""The flags of ``nst stylize`` as data: one entry per setting, with its type, its help and its default from
Settings. cli.py builds its parsers from them; a manifest's columns (nst batch) are parsed by the same types.

A flag given twice never loses a value silently: a list flag (``--style a.png --style b.png``) collects both, a
single-valued flag given again with another value is refused (``Once``, ``OnOff``), as in every nst command.
"""

from __future__ import annotations

import argparse
from typing import Any

from . import presets, values
from .settings import SPECS, Settings
from .spec import GATYS, Role, Spec
from .value_lists import layer_list, numbers
from .values import number

__all__ = ["layer_list", "number", "numbers"]


def _given(namespace: argparse.Namespace) -> dict[str, tuple[Any, str]]:
    """The values the command line gave so far, by setting, with the flag that gave each."""
    if "_given" not in vars(namespace):
        namespace._given = {}
    return namespace._given


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


class Once(argparse.Action):
    """Store a flag's value; the same flag again with another value is refused, never silently replaced."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        """Store ``values``, or exit 2 naming the flag and both values."""
        given = _given(namespace)
        if self.dest in given and given[self.dest][0] != values:
            parser.error(
                f"{option_string} given twice, {_shown(given[self.dest][0])!r} and {_shown(values)!r}: give it once"
            )
        given[self.dest] = (values, option_string)
        setattr(namespace, self.dest, values)


class OnOff(argparse.BooleanOptionalAction):
    """--flag / --no-flag; both given is refused, never decided silently by their order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        """Store the flag's truth, or exit 2 naming both spellings."""
        value = not (option_string or "").startswith("--no-")
        given = _given(namespace)
        if self.dest in given and given[self.dest][0] != value:
            parser.error(f"{given[self.dest][1]} and {option_string} both given: give one")
        given[self.dest] = (value, option_string)
        setattr(namespace, self.dest, value)


def parser_options(options: dict[str, Any]) -> dict[str, Any]:
    """argparse keywords for a flag of the table: a list flag collects its values, any other flag is given once."""
    if "action" in options:
        return options
    return {"action": "extend" if options.get("nargs") == "+" else Once, **options}


def shown_default(spec: Spec) -> str:
    """A setting's default as its help and the documentation say it ("" where there is none to say)."""
    if spec.default_text:
        return spec.default_text
    value = spec.unset if spec.unset is not None else spec.default
    if value is None or value == () or value is False:
        return ""
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def flag_options(spec: Spec) -> dict[str, Any]:
    """argparse keywords for a setting's flag: its kind's, its help with its default, the choices of --preset."""
    options = spec.kind.parser()
    if isinstance(spec.kind, values.Flag):
        options["action"] = "store_true"
    elif isinstance(spec.kind, values.Switch):
        options["action"] = OnOff
    if spec.name == "preset":
        options["choices"] = presets.names()
    if isinstance(spec.kind, values.Switch) and not isinstance(spec.kind, values.Flag):
        default = "on" if spec.default else "off"
    else:
        default = shown_default(spec)
    options["help"] = f"{spec.help} (default {default})" if default else spec.help
    return options


# (flags, argparse keywords) for every setting with a flag, in declaration order (settings.SPECS).
STYLIZE: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = tuple(
    ((spec.flag,), flag_options(spec)) for spec in SPECS.values() if spec.flag
)


def flags_of(*roles: Role) -> frozenset[str]:
    """The flags of the settings of these roles."""
    return frozenset(spec.flag for spec in SPECS.values() if spec.flag and spec.role in roles)


# Flags a command leaves out: compare chooses the backends and the outputs itself; photoreal trains a generator, so
# the settings only the Gatys method takes are not its flags (and its preset is its own).
COMPARE_SKIPS = flags_of(Role.OUTPUT) | {"--backend", "--resume"}
PHOTOREAL_SKIPS = frozenset({"--preset"} | {s.flag for s in SPECS.values() if s.flag and s.methods == GATYS})
# nst batch: its own --content, --style, --output-dir and --quiet; the per-job outputs are its own (--backend stays:
# a default for every job).
BATCH_SKIPS = flags_of(Role.INPUT, Role.OUTPUT, Role.NOW)
TUPLES = tuple(name for name, spec in SPECS.items() if "nargs" in spec.kind.parser())  # argparse gives lists


def explicit_settings(given: dict[str, Any], skip: tuple[str, ...] = ()) -> tuple[dict[str, Any], str | None]:
    """The settings that were given (as Settings values, less those in skip), and the preset's name."""
    explicit = {k: v for k, v in given.items() if k in presets.FIELD_NAMES and k not in skip}
    for key in TUPLES:
        if key in explicit:
            explicit[key] = tuple(explicit[key])
    return explicit, explicit.pop("preset", None)


def settings_from(given: dict[str, Any]) -> Settings:
    """Settings from the defaults, the preset's values and the settings that were given, in that order."""
    explicit, preset = explicit_settings(given)
    if explicit.get("optimizer") == "lbfgs" and "lr" not in explicit:
        explicit["lr"] = 1.0
    return presets.settings(explicit, preset)
