"""What one setting's declaration holds (Spec) and what a setting is to a run (Role); settings.py declares every
setting of a run with them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..core.errors import UserError
from . import values

OPTIMIZERS = ("adam", "lbfgs", "sgd")
PRECISIONS = ("fp32", "bf16", "fp16", "auto")  # auto: bf16 or fp32 by the CPU and backend (core/precision.py)
INITS = ("content", "noise", "style")  # or a path to an image
WEIGHT_SPECS = ("auto", "imagenet", "random")  # or a path to a weights file
METHODS = ("gatys", "hrnet")  # optimize the image's pixels, or train the HRNet generator (common/core/hrnet.py)
POOLINGS = ("max", "avg")
DTYPES = ("float32", "float64")
GATYS, HRNET = frozenset({"gatys"}), frozenset({"hrnet"})
IMAGES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")  # what an output image may be (outputs.py)
NO_BATCH = "is not supported by nst batch"


class Role(str, Enum):
    """What a setting is to a run."""

    RECIPE = "recipe"  # decides the result: held to the checkpoint's on resume, hashed by nst batch
    INPUT = "input"  # a file the run reads: decides the result by its content (a moved file is the same input)
    OUTPUT = "output"  # where results go and how often: may change on resume, decides nothing
    NOW = "now"  # about this process only (--resume, --quiet): never kept, never compared


@dataclass(frozen=True)
class Spec:
    """One setting's declaration: everything the CLI, manifests, the page, resume, nst batch and the docs derive."""

    role: Role
    kind: values.Kind
    help: str
    flag: str | None = ""  # "": --the-name-with-dashes; None: no flag (set by presets or by the command)
    methods: frozenset[str] = frozenset(METHODS)  # the methods that accept a value other than the default
    decides: bool = True  # a RECIPE setting that decides the result (not the preset's name: its values do)
    page: bool = False  # the web page's form offers it (a setting that names no file)
    page_maximum: int | None = None  # the largest value the page takes (a run it can finish); the CLI takes more
    batch: str | None = None  # why a batch job cannot take it, if it cannot
    extensions: tuple[str, ...] = ()  # an output file's allowed extensions
    called: str = ""  # what messages call an output file ("run record")
    unset: Any = None  # the value None stands for (output settings a resumed run takes from its checkpoint)
    default_text: str = ""  # the documentation's default where the field's own default says nothing
    refused: str = ""  # what the other method says of a value it does not take ({flag}, {value}); "": the generic line
    name: str = ""  # filled in below
    default: Any = None

    @property
    def label(self) -> str:
        """How messages name the setting: its flag, or its name."""
        return self.flag or self.name

    def as_json(self) -> dict[str, Any]:
        """What a form or an API client needs to know of the setting: its flag, help, value's schema, default."""
        default = self.unset if self.default is None and self.unset is not None else self.default
        return {
            "flag": self.flag,
            "help": self.help,
            "role": self.role.value,
            "schema": {**self.kind.schema(), **({"maximum": self.page_maximum} if self.page_maximum else {})},
            "default": list(default) if isinstance(default, tuple) else default,
            "methods": sorted(self.methods),
        }

    def check_page(self, value: Any) -> None:
        """UserError naming the page's field (Steps) when a value the page sent is above its page_maximum."""
        if self.page_maximum is not None and values.is_number(value) and value > self.page_maximum:
            field = self.name.replace("_", " ").capitalize()
            raise UserError(
                f"{field} is {value}; the page takes at most {self.page_maximum} (nst stylize {self.label} takes more)"
            )

    def refusal(self, value: Any) -> str:
        """The line a method that does not take this setting says when it is given ``value``."""
        if self.refused:
            return self.refused.format(flag=self.label, value=value)
        return f"{self.label} is not supported by the photoreal (HRNet generator) method"


def declare(default: Any, role: Role, kind: values.Kind, *, help: str, **more: Any) -> Any:
    """A Settings field and its declaration."""
    return field(default=default, metadata={"spec": Spec(role, kind, help, **more)})
