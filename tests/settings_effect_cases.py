"""The classification of every field of common.Settings (issue 22, item 7), in one place: DECIDES, the settings
that decide a run's computation, each with the cases that show its effect (tests/test_settings_effect.py runs
them); DOES_NOT_DECIDE, the others, each with the reason. A new field of Settings fails that file's tests until it
is in one of the two.

A case is the base run (BASE_FLAGS, simulated by BASE: a 32x40 float64 run of 2 steps with three shallow layers,
cheap on both backends) with the setting at a value other than its default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from settings_effect_support import Sim


@dataclass(frozen=True)
class Case:
    """A setting at a non-default value: the flags that give it, the simulation's values for them, and the check."""

    label: str
    flags: dict[str, tuple[str, ...] | None]  # added to (or, None: removed from) BASE_FLAGS
    changes: dict[str, Any] = field(default_factory=dict)  # Sim values; "@name" is an input file
    kind: str = "run"  # run: the whole run; first: the first step's losses; dtype; precision
    without: dict[str, Any] | None = None  # the Sim values of the run without the setting; None: the base's value


BASE_FLAGS: dict[str, tuple[str, ...]] = {
    "--content": ("@content",),
    "--style": ("@style",),
    "--size": ("32", "40"),
    "--steps": ("2",),
    "--content-layers": ("conv3_1",),
    "--style-layers": ("conv1_1,conv2_1,conv3_1",),
    "--weights": ("random",),
    "--dtype": ("float64",),
    "--quiet": (),
}
BASE = Sim(
    content="@content",
    style=("@style",),
    size=(32, 40),
    steps=2,
    content_layers=("conv3_1",),
    style_layers=("conv1_1", "conv2_1", "conv3_1"),
)
BASE_SIZE = {"size": BASE.size, "max_side": None, "min_side": None}
# What --preset photoreal-hrnet sets that its first step reads (docs/presets.md): the generator, content 150, style 1,
# no TV; the base's three style layers replace its five, so its five layer weights are dropped.
PHOTOREAL = {"method": "hrnet", "content_weight": 150.0, "style_weight": 1.0, "tv_weight": 0.0, "steps": 1}
PHOTOREAL_FLAGS = {"--preset": ("photoreal-hrnet",), "--steps": ("1",)}

# ---- the classification: every field of Settings, in one of the two dicts ----------------------------------------
DECIDES: dict[str, tuple[Case, ...]] = {
    "content": (Case("other-image", {"--content": ("@content2",)}, {"content": "@content2"}),),
    "style": (Case("other-image", {"--style": ("@style2",)}, {"style": ("@style2",)}),),
    "style_weights": (
        Case(
            "1,3",
            {"--style": ("@style", "@style2"), "--style-weights": ("1", "3")},
            {"style": ("@style", "@style2"), "style_weights": (1.0, 3.0)},
        ),
    ),
    "style_scale": (Case("0.75", {"--style-scale": ("0.75",)}, {"style_scale": 0.75}),),
    "style_max_side": (
        Case("24", {**PHOTOREAL_FLAGS, "--style-max-side": ("24",)}, {**PHOTOREAL, "style_max_side": 24}, "first"),
    ),
    "style_gram": (
        Case("sum", {**PHOTOREAL_FLAGS, "--style-gram": ("sum",)}, {**PHOTOREAL, "style_gram": "sum"}, "first"),
    ),
    "style_layer_weights": (
        Case("1,0.5,3", {"--style-layer-weights": ("1", "0.5", "3")}, {"style_layer_weights": (1.0, 0.5, 3.0)}),
    ),
    "size": (Case("24x32", {"--size": ("24", "32")}, {"size": (24, 32)}),),
    "max_side": (
        Case("40", {"--size": None, "--max-side": ("40",)}, {"size": None, "max_side": 40}, without=BASE_SIZE),
    ),
    "min_side": (
        Case("20", {"--size": None, "--min-side": ("20",)}, {"size": None, "min_side": 20}, without=BASE_SIZE),
    ),
    "scales": (Case("0.5,1", {"--scales": ("0.5,1",)}, {"scales": (0.5, 1.0)}),),
    "stages": (  # d2l-2019's two stages (half size, then full), lr 0.01 each; --steps 2 applies to both
        Case(
            "preset-d2l-2019",
            {"--preset": ("d2l-2019",)},
            {"stages": ((0.5, None, 0.01, 200, 0.1), (1.0, None, 0.01, 100, 0.1)), "style_weight": 1e3},
        ),
    ),
    "steps": (Case("3", {"--steps": ("3",)}, {"steps": 3}),),
    "optimizer": (
        Case("sgd", {"--optimizer": ("sgd",), "--lr": ("0.001",)}, {"optimizer": "sgd", "lr": 0.001}),
        Case("lbfgs", {"--optimizer": ("lbfgs",)}, {"optimizer": "lbfgs", "lr": 1.0}),  # lr 1 unless given
    ),
    "lr": (Case("0.05", {"--lr": ("0.05",)}, {"lr": 0.05}),),
    "lr_decay_every": (Case("1", {"--lr-decay-every": ("1",)}, {"lr_decay_every": 1}),),
    "lr_decay_factor": (
        Case(
            "0.5",
            {"--lr-decay-every": ("1",), "--lr-decay-factor": ("0.5",)},
            {"lr_decay_every": 1, "lr_decay_factor": 0.5},
        ),
    ),
    "content_weight": (Case("5", {"--content-weight": ("5",)}, {"content_weight": 5.0}),),
    "style_weight": (Case("100", {"--style-weight": ("100",)}, {"style_weight": 100.0}),),
    "tv_weight": (Case("0", {"--tv-weight": ("0",)}, {"tv_weight": 0.0}),),
    "content_layers": (Case("8,pool1", {"--content-layers": ("8,pool1",)}, {"content_layers": ("relu2_2", "pool1")}),),
    "style_layers": (Case("relu1_2,7", {"--style-layers": ("relu1_2,7",)}, {"style_layers": ("relu1_2", "conv2_2")}),),
    "pooling": (Case("avg", {"--pooling": ("avg",)}, {"pooling": "avg"}),),
    "normalize": (Case("off", {"--no-normalize": ()}, {"normalize": False}),),
    "clamp": (Case("on", {"--clamp": ()}, {"clamp": True}),),
    "init": (
        Case("noise", {"--init": ("noise",)}, {"init": "noise"}),
        Case("style", {"--init": ("style",)}, {"init": "style"}),
        Case("image-file", {"--init": ("@init",)}, {"init": "@init"}),
    ),
    "preserve_colors": (Case("on", {"--preserve-colors": ()}, {"preserve_colors": True}),),
    "seed": (Case("3-noise", {"--seed": ("3",), "--init": ("noise",)}, {"seed": 3, "init": "noise"}),),
    "weights": (Case("file", {"--weights": ("@weights",)}, {"weights": "@weights"}),),
    "dtype": (Case("float64", {}, kind="dtype"),),
    "precision": (
        Case("bf16", {"--dtype": None, "--precision": ("bf16",), "--steps": ("1",)}, kind="precision"),
        Case("fp16", {"--dtype": None, "--precision": ("fp16",), "--steps": ("1",)}, kind="precision"),
    ),
    "method": (Case("hrnet", PHOTOREAL_FLAGS, PHOTOREAL, "first"),),
}
DOES_NOT_DECIDE: dict[str, str] = {
    "backend": "which implementation computes the run, not what it computes: every case above runs on each backend "
    "and holds it to the same independent computation",
    "device": "where the run computes (cpu; cuda:N is refused here, there is no GPU), not what",
    "output": "where the picture is written",
    "log": "where the run record is written",
    "plot": "where the loss curves are drawn",
    "save_every": "which intermediate pictures are also written (test_output_settings_leave_the_run_alone)",
    "gif": "where the animation is written (test_output_settings_leave_the_run_alone)",
    "checkpoint": "where the state is saved (every case here reads its image from one)",
    "checkpoint_every": "how often the state is saved (test_output_settings_leave_the_run_alone)",
    "resume": "continues a run with the checkpoint's settings: the same result as a run that never stopped "
    "(tests/test_resume.py)",
    "save_model": "where the photoreal generator is written",
    "preset": "a name: a preset's values are the other fields (its cases: stages and method above)",
    "quiet": "whether progress is shown (every case here runs with it)",
}
