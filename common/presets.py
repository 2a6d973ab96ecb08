"""The recipes of the source documents as presets: ``--preset NAME`` sets every value of a recipe.

Explicit flags override a preset's values. Where a document is ambiguous, the choice made and its reason are
written next to the preset (``nst presets`` prints them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .errors import UserError
from .settings import D2L_CONTENT_LAYERS, D2L_SIZE, D2L_STYLE_LAYERS, FIELD_NAMES, Settings, Stage

# Every value a recipe decides. A preset sets all of them, so no default of another recipe leaks in.
RECIPE = {
    "size": D2L_SIZE,
    "max_side": None,
    "min_side": None,
    "scales": (1.0,),
    "stages": (),
    "steps": 500,
    "optimizer": "adam",
    "lr": 0.3,
    "lr_decay_every": 50,
    "lr_decay_factor": 0.8,
    "content_weight": 1.0,
    "style_weight": 1e4,
    "tv_weight": 10.0,
    "content_layers": D2L_CONTENT_LAYERS,
    "style_layers": D2L_STYLE_LAYERS,
    "style_layer_weights": (),
    "style_scale": None,
    "pooling": "max",
    "normalize": True,
    "clamp": False,
    "init": "content",
}


@dataclass(frozen=True)
class Preset:
    """A recipe: where it comes from, every value it sets, and the choices made where its document is vague."""

    name: str
    document: str
    summary: str
    values: dict[str, Any]
    choices: tuple[str, ...] = ()


def _recipe(**changes: Any) -> dict[str, Any]:
    unknown = set(changes) - set(RECIPE)
    assert not unknown, unknown
    return {**RECIPE, **changes}


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "d2l",
            "000_2c0be7bee33abd19.txt, PyTorch variant (d2l 'Neural Style Transfer', current edition)",
            "content 1, style 1e4, TV 10; style layers 0,5,10,19,28, content 25; Adam lr 0.3 x0.8 every 50 "
            "steps; 500 steps at 300x450 from the content image",
            _recipe(),
            (
                "Layers are tapped as their own outputs: the document's torchvision features have in-place ReLUs, "
                "so its 'conv' style layers are really ReLU outputs (docs/porting.md, pitfall 1); this project "
                "computes what the document describes, as its MXNet variant does.",
            ),
        ),
        Preset(
            "d2l-mxnet",
            "000_2c0be7bee33abd19.txt, MXNet variant",
            "the d2l recipe with the MXNet variant's learning rate, 0.9",
            _recipe(lr=0.9),
            (
                "Its image_shape (450, 300) is MXNet's (width, height): the same 300 rows x 450 columns as the "
                "PyTorch variant's (300, 450).",
            ),
        ),
        Preset(
            "d2l-2019",
            "001_029a12f8cbfc35e5.txt (d2l, 2019 MXNet edition)",
            "style 1e3; Adam lr 0.01 x0.1 every 200 steps, 500 steps at 150x225; then the result upscaled and "
            "300 more steps at 300x450 (lr 0.01, x0.1 every 100)",
            _recipe(
                style_weight=1e3,
                stages=(
                    Stage(scale=0.5, steps=500, lr=0.01, lr_decay_every=200, lr_decay_factor=0.1),
                    Stage(scale=1.0, steps=300, lr=0.01, lr_decay_every=100, lr_decay_factor=0.1),
                ),
            ),
            (
                "The document decays when `i % 200 == 0 and i != 0`, after step i: one step later than StepLR. "
                "This preset decays after every 200 (then 100) steps, the one schedule both backends share "
                "(docs/porting.md, 'When the learning rate decays').",
                "Its image shapes (225, 150) and (450, 300) are MXNet's (width, height): 150x225, then 300x450.",
                "The second stage starts from the first stage's result saved as an 8-bit image and resized with "
                "PIL, as every input of this project is; the document resizes the float image with OpenCV.",
                "Each stage gets a fresh Adam, as the document's get_inits creates a new Trainer.",
            ),
        ),
        Preset(
            "mastering-pytorch",
            "003_e46da2c64d7fe871.txt ('Mastering PyTorch', chapter 8)",
            "average pooling; style on the first five conv layers, content on the fourth; content 1, style 1e6, "
            "no TV; Adam lr 0.1, 180 steps from noise; the image clamped to [0, 1] every step; inputs are [0, 1] "
            "pixels, not ImageNet-normalized; 128 pixels on the shorter side",
            _recipe(
                size=None,
                min_side=128,
                steps=180,
                lr=0.1,
                lr_decay_factor=1.0,
                style_weight=1e6,
                tv_weight=0.0,
                style_layers=("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1"),
                content_layers=("conv2_2",),
                pooling="avg",
                normalize=False,
                clamp=True,
                init="noise",
            ),
            (
                "'The first five conv layers' and 'the fourth' count conv layers only (its conv_indices are "
                "1-based): conv1_1, conv1_2, conv2_1, conv2_2, conv3_1 and conv2_2.",
                "Its image_to_tensor(image_dimension=128) calls Resize(img_size) with img_size not shown; Resize "
                "of a single number scales the shorter side to it, so: 128 pixels on the shorter side.",
                "It starts from torch.randn noise and clamps it to [0, 1] before the first step; this preset starts "
                "from uniform noise in [0, 1], drawn in numpy so that both backends start from the same image.",
                "Its Gram matrix divides by b c h w; with one image (b = 1) that is d2l's c h w, and its losses "
                "are mean squared errors: the same formulas as the other presets.",
                "It uses no learning-rate decay: the factor is 1.",
            ),
        ),
    )
}


def names() -> list[str]:
    """The preset names."""
    return sorted(PRESETS)


def get(name: str) -> Preset:
    """A preset by name, or UserError listing the known ones."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; known presets are {', '.join(names())}")
    return PRESETS[name]


def settings(explicit: dict[str, Any], preset: str | None = None) -> Settings:
    """Settings from the defaults, then the preset's values, then the explicitly given ones."""
    unknown = set(explicit) - set(FIELD_NAMES)
    if unknown:
        raise UserError(f"unknown settings: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    if preset is not None:
        values.update(get(preset).values)
    if {"max_side", "min_side"} & set(explicit) and "size" not in explicit:
        values["size"] = None  # an explicit --max-side/--min-side replaces the preset's size
    if "scales" in explicit:
        values["stages"] = ()  # explicit --scales replace a preset's stages
    schedule = {"steps", "lr", "lr_decay_every", "lr_decay_factor"} & set(explicit)
    if values.get("stages") and schedule:  # an explicit --steps or --lr applies to every stage
        values["stages"] = tuple(replace(st, **dict.fromkeys(schedule)) for st in values["stages"])
    values.update(explicit)
    return Settings(**{**values, "preset": preset})


def describe(preset: Preset) -> str:
    """A preset as readable text: source, values, choices."""
    lines = [f"{preset.name}: {preset.summary}", f"  from {preset.document}"]
    staged = bool(preset.values.get("stages"))
    for key, value in preset.values.items():
        if staged and key in ("scales", "steps", "lr", "lr_decay_every", "lr_decay_factor"):
            continue  # each stage sets these
        if key == "stages" and value:
            for i, st in enumerate(value, 1):
                lines.append(
                    f"    stage {i}: scale {st.scale:g}, {st.steps} steps, lr {st.lr:g}, "
                    f"x{st.lr_decay_factor:g} every {st.lr_decay_every}"
                )
        elif value not in (None, ()):
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
            lines.append(f"    {key.replace('_', '-')}: {shown}")
    for choice in preset.choices:
        lines.append(f"  choice: {choice}")
    return "\n".join(lines)
