"""The flags of ``nst stylize`` as data: one entry per setting, with its type, its help and its default from
Settings. cli.py builds its parsers from them; a manifest's columns (nst batch) are parsed by the same types.

A flag given twice never loses a value silently: a list flag (``--style a.png --style b.png``) collects both, a
single-valued flag given again with another value is refused (``Once``, ``OnOff``), as in every nst command.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core import layers
from ..core.photoreal_objective import GRAMS
from ..core.registry import NAMES
from . import presets
from .settings import OPTIMIZERS, POOLINGS, PRECISIONS, UNSET_DEFAULTS, Settings

DEFAULTS = Settings()


def layer_list(text: str) -> tuple[str, ...]:
    """Layers by name or index, comma-separated: 'conv1_1,relu4_2' or '0,5,10'."""
    try:
        return layers.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def number(text: str) -> float:
    """A number (range checks are Settings.validated's, so that every caller gets the same message)."""
    try:
        return float(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from e


def numbers(text: str) -> tuple[float, ...]:
    """Comma-separated numbers: '0.25,0.5,1'."""
    try:
        return tuple(float(item) for item in text.split(",") if item.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from e


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


d = DEFAULTS
on_off = OnOff
# (flags, argparse keywords) for every flag; the setting is the first flag's name with - as _.
STYLIZE: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--preset",),
        {"choices": presets.names(), "help": "set every value of a recipe (see nst presets); flags override"},
    ),
    (("--backend",), {"help": f"{' or '.join(NAMES)} (default {d.backend})"}),
    (("--content",), {"help": "content image (default: scikit-image's chelsea.png)"}),
    (
        ("--style",),
        {"nargs": "+", "metavar": "IMAGE", "help": "one or more style images (default: scikit-image's ihc.png)"},
    ),
    (
        ("--style-weights",),
        {"nargs": "+", "type": number, "metavar": "W", "help": "blend weights of several style images"},
    ),
    (
        ("--style-scale",),
        {"type": number, "metavar": "S", "help": "style image's longer side = S x the result's (keeps aspect)"},
    ),
    (("--style-layer-weights",), {"nargs": "+", "type": number, "metavar": "W", "help": "one weight per style layer"}),
    (
        ("--style-max-side",),
        {"type": int, "metavar": "N", "help": "photoreal: the style image's longer side at most N"},
    ),
    (
        ("--style-gram",),
        {
            "choices": GRAMS,
            "help": "photoreal: compare Gram matrices per pixel (default) or summed as document 004's code does",
        },
    ),
    (("--output",), {"help": f"result image, .png/.jpg/... (default {UNSET_DEFAULTS['output']})"}),
    (
        ("--size",),
        {"nargs": 2, "type": int, "metavar": ("H", "W"), "help": "rows and columns of the result (default 300 450)"},
    ),
    (
        ("--max-side",),
        {"type": int, "metavar": "N", "help": "size from the content image, longer side N (keeps aspect)"},
    ),
    (
        ("--min-side",),
        {"type": int, "metavar": "N", "help": "size from the content image, shorter side N (keeps aspect)"},
    ),
    (("--scales",), {"type": numbers, "metavar": "S,S,...", "help": "coarse to fine, e.g. 0.25,0.5,1; --steps each"}),
    (("--steps",), {"type": int, "help": f"optimization steps per scale (default {d.steps})"}),
    (("--optimizer",), {"choices": OPTIMIZERS, "help": f"{', '.join(OPTIMIZERS)} (default {d.optimizer})"}),
    (("--lr",), {"type": number, "help": f"learning rate (default {d.lr}; 1 for lbfgs unless given)"}),
    (
        ("--lr-decay-every",),
        {"type": int, "metavar": "N", "help": f"x --lr-decay-factor every N steps (default {d.lr_decay_every})"},
    ),
    (("--lr-decay-factor",), {"type": number, "metavar": "F", "help": f"(default {d.lr_decay_factor})"}),
    (("--content-weight",), {"type": number, "help": f"(default {d.content_weight:g})"}),
    (("--style-weight",), {"type": number, "help": f"(default {d.style_weight:g})"}),
    (("--tv-weight",), {"type": number, "help": f"(default {d.tv_weight:g})"}),
    (
        ("--content-layers",),
        {"type": layer_list, "metavar": "LAYERS", "help": "names or feature indices (default conv4_4 = 25)"},
    ),
    (("--style-layers",), {"type": layer_list, "metavar": "LAYERS", "help": f"(default {','.join(d.style_layers)})"}),
    (("--pooling",), {"choices": POOLINGS, "help": f"VGG pooling (default {d.pooling})"}),
    (("--normalize",), {"action": on_off, "help": "ImageNet mean/std normalization (default on)"}),
    (("--clamp",), {"action": on_off, "help": "clamp the image to valid pixels every step"}),
    (("--init",), {"metavar": "content|noise|style|PATH", "help": f"start image (default {d.init})"}),
    (("--preserve-colors",), {"action": on_off, "help": "keep the content image's colours"}),
    (("--seed",), {"type": int, "help": f"seed for random weights and noise (default {d.seed})"}),
    (("--device",), {"help": f"cpu or cuda:N (default {d.device})"}),
    (("--weights",), {"metavar": "auto|imagenet|random|PATH", "help": f"VGG-19 weights (default {d.weights})"}),
    (("--dtype",), {"choices": ("float32", "float64"), "help": f"(default {d.dtype})"}),
    (("--precision",), {"choices": PRECISIONS, "help": "fast mode: run VGG in bf16 (CPU) or fp16 (GPU)"}),
    (("--log",), {"metavar": "RUN.json", "help": "write the run record (settings, versions, per-step losses)"}),
    (("--plot",), {"metavar": "LOSS.png", "help": "draw the loss curves"}),
    (("--save-every",), {"type": int, "metavar": "N", "help": "also write the image every N steps"}),
    (("--gif",), {"metavar": "PATH.gif", "help": "write an animation of the progress"}),
    (
        ("--checkpoint",),
        {"metavar": "PATH.npz", "help": "save image and optimizer state every --checkpoint-every steps"},
    ),
    (
        ("--checkpoint-every",),
        {"type": int, "metavar": "N", "help": f"(default {UNSET_DEFAULTS['checkpoint_every']})"},
    ),
    (("--resume",), {"metavar": "PATH.npz", "help": "continue the run a checkpoint holds"}),
    (("--save-model",), {"metavar": "MODEL.npz", "help": "photoreal: save the trained generator (for nst apply)"}),
    (("--quiet",), {"action": "store_true", "help": "no progress bar, no summary"}),
)
del d

# Flags a command leaves out: compare chooses the backends and the outputs itself; photoreal trains a generator.
COMPARE_SKIPS = frozenset(
    {"--backend", "--output", "--log", "--plot", "--gif", "--save-every", "--checkpoint", "--checkpoint-every"}
    | {"--resume", "--save-model"}
)
PHOTOREAL_SKIPS = frozenset(
    {"--preset", "--scales", "--optimizer", "--init", "--clamp", "--precision", "--gif", "--style-scale"}
    | {"--style-weights"}
)
# nst batch: its own --content, --style, --output-dir and --quiet; the per-job outputs are its own (--backend stays:
# a default for every job).
BATCH_SKIPS = frozenset({"--content", "--style", "--output", "--quiet", *COMPARE_SKIPS} - {"--backend"})
TUPLES = ("size", "style", "style_weights", "style_layer_weights")  # settings argparse gives as lists


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
