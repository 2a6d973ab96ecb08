"""A run's settings (the declarations in declared.py) and what is done with them: validation, stages, records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..core import layers, pyramid
from ..core.errors import UserError
from . import value_lists, values
from .declared import Declared, Stage
from .spec import DTYPES, INITS, METHODS, OPTIMIZERS, POOLINGS, PRECISIONS, WEIGHT_SPECS, Role, Spec

__all__ = ["DTYPES", "INITS", "METHODS", "OPTIMIZERS", "POOLINGS", "PRECISIONS", "WEIGHT_SPECS", "Settings", "Stage"]


@dataclass(frozen=True)
class Settings(Declared):
    """One run's settings."""

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
                levels=st.levels,
            )
            for st in stages
        )

    def validated(self) -> Settings:
        """The same settings with names resolved and lists normalized, or UserError naming the first bad value:
        each value by its own declaration (in the order they are declared), then the checks of two together."""
        s = replace(self, **{k: v for k, v in UNSET_DEFAULTS.items() if getattr(self, k) is None})
        if isinstance(s.style, str):
            s = replace(s, style=(s.style,))
        for spec in SPECS.values():
            value = getattr(s, spec.name)
            if not (value is None and spec.kind.optional):
                spec.kind.check(spec.label, value)
        if s.size is not None:
            s = replace(s, size=value_lists.check_size(s.size))
        _check_together(s)
        content_layers, style_layers = layers.resolve_all(s.content_layers), layers.resolve_all(s.style_layers)
        if not style_layers and not content_layers:
            raise UserError("no content and no style layers: name at least one")
        _weights_list("--style-weights", s.style_weights, len(s.style) or 1, "style images")
        _weights_list("--style-layer-weights", s.style_layer_weights, len(style_layers), "style layers")
        _check_stages(s)
        return replace(s, content_layers=content_layers, style_layers=style_layers)


def _check_together(s: Settings) -> None:
    """UserError for settings that cannot go together."""
    if s.size is not None and (s.max_side is not None or s.min_side is not None):
        raise UserError("give --size or --max-side/--min-side, not both")
    if s.max_side is not None and s.min_side is not None:
        raise UserError("give --max-side or --min-side, not both: each sets the size from the content image")
    if s.precision != "fp32" and s.dtype != "float32":
        raise UserError(
            f"--precision {s.precision} is a fast mode of float32 runs; it cannot go with --dtype {s.dtype}"
        )


def _check_stages(s: Settings) -> None:
    """UserError for an empty --scales or a stage value out of range."""
    if not s.scales and not s.stages:
        raise UserError("--scales is empty: give at least one scale, e.g. 1")
    for stage in s.stages:
        values.Number().check("stage scale", stage.scale)
        if stage.steps is not None:
            values.Int().check("stage steps", stage.steps)
        if stage.lr is not None:
            values.Number().check("stage lr", stage.lr)
        if stage.lr_decay_every is not None:
            values.Int().check("stage lr_decay_every", stage.lr_decay_every)
        if stage.lr_decay_factor is not None:
            SPECS["lr_decay_factor"].kind.check("--lr-decay-factor", stage.lr_decay_factor)
        values.Int().check("stage levels", stage.levels)
        if stage.levels > pyramid.MAX_LEVELS:
            raise UserError(f"stage levels is {stage.levels}; a pyramid has at most {pyramid.MAX_LEVELS} levels")
        if stage.levels > 1 and (s.method != "gatys" or s.optimizer == "lbfgs"):
            raise UserError(
                f"a stage of {stage.levels} pyramid levels optimizes the pixels with Adam or SGD: it cannot go with "
                + ("--optimizer lbfgs" if s.method == "gatys" else f"the {s.method} method")
            )


def _weights_list(flag: str, weights: Sequence[Any], expected: int, what: str) -> None:
    if not weights:
        return
    if len(weights) != expected:
        raise UserError(f"{flag} has {len(weights)} values for {expected} {what}; give one per {what[:-1]}")
    if not any(weights):
        raise UserError(f"{flag} are all zero")


def check_method(s: Settings) -> None:
    """UserError for the first setting the run's method does not take (given a value other than its default)."""
    for spec in SPECS.values():
        value = getattr(s, spec.name)
        if s.method not in spec.methods and value != spec.default and value != spec.unset:
            raise UserError(spec.refusal(value))
    if s.method == "hrnet" and len(s.style) > 1:
        raise UserError("the photoreal method takes one style image")


def output_files(method: str) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """The output files a run of the method may write besides --output: (setting, extensions, what)."""
    return tuple(
        (spec.name, spec.extensions, f"{spec.called} ({spec.flag})")
        for spec in SPECS.values()
        if spec.called and spec.name != "output" and method in spec.methods
    )


def _declared() -> dict[str, Spec]:
    """Every field's declaration, with its name, flag and default filled in."""
    out = {}
    for f in fields(Settings):
        spec = f.metadata["spec"]
        flag = "--" + f.name.replace("_", "-") if spec.flag == "" else spec.flag
        out[f.name] = replace(spec, name=f.name, flag=flag, default=f.default)
    return out


SPECS: dict[str, Spec] = _declared()
FIELD_NAMES = tuple(SPECS)
UNSET_DEFAULTS = {name: spec.unset for name, spec in SPECS.items() if spec.unset is not None}
check_size = value_lists.check_size


def named(role: Role) -> tuple[str, ...]:
    """The settings of one role, in declaration order."""
    return tuple(name for name, spec in SPECS.items() if spec.role is role)


def path_settings(role: Role) -> tuple[str, ...]:
    """The settings whose value names a file that a run reads (INPUT) or writes (OUTPUT), not counting keywords."""
    return tuple(
        name
        for name, spec in SPECS.items()
        if (spec.role is role and isinstance(spec.kind, (values.Text, value_lists.Files)))
        or (role is Role.INPUT and isinstance(spec.kind, values.KeywordOrPath))
    )
