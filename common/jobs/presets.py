"""The recipes of the source documents as presets: ``--preset NAME`` sets every value of a recipe.

Explicit flags override a preset's values. Where a document is ambiguous, the choice made and its reason are
written next to the preset (``nst presets`` prints them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..core.errors import UserError
from ..core.recipe import D2L
from .fast import FAST_CHOICES, FAST_STAGES
from .settings import FIELD_NAMES, Settings, Stage

# Every value a recipe decides: the d2l recipe's (common/core/recipe.py). A preset sets all of them, so no default
# of another recipe leaks in.
RECIPE = D2L


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


def _photoreal(**changes: Any) -> dict[str, Any]:
    """Document 004's training values (issue 7; its repository's config.py) with the given changes."""
    return _recipe(
        method="hrnet",
        size=(500, 500),
        lr=5e-3,
        lr_decay_every=200,
        lr_decay_factor=0.9,
        content_weight=150.0,
        style_weight=1.0,
        tv_weight=0.0,
        style_layer_weights=(0.1, 0.2, 0.4, 0.8, 1.6),
        **changes,
    )


STYLE_GRAM_CHOICE = (
    "Gram matrices are compared per pixel (--style-gram per-pixel): the style image's Gram matrix, which sums over "
    "its own h_s w_s positions, is scaled by h w / (h_s w_s) to the output's; the loss is otherwise the code's, "
    "w_l mean((G(T) - G_S)^2) / (c h w) with G = F F^T, and the very same number when both have the same pixel "
    "count. The code compares the sums as they are (--style-gram sum, photoreal-hrnet-repo): a style image with "
    "more pixels than the output sets targets in-range pixels cannot reach, and the output drifts. Measured (torch, "
    "seeded random VGG-19, 256x256 content, the 512x512 sample style, 80 steps): summed, mean pixel 0.02 and 98% "
    "of pixels at 0 or 255; per pixel, mean 0.68, 2.4% at 0 or 255, coarse edges correlating 0.54 with the "
    "content's; with the style resized to the output's pixel count instead, 0.67, 2.7%, 0.58. Both stop the "
    "drift; per pixel keeps the style image at its own resolution, as the document asks ('do not resize them'), "
    "so it is the default."
)

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
        Preset(
            "fast",
            "this project (issue 25): the d2l recipe's objective, reached in a fraction of its time",
            "the d2l objective and weights; Adam at half, then full size, the image a pyramid of levels (each "
            "stage with its own schedule): under a twelfth of the recipe's work, ending at 0.964 of its loss on the "
            "sample pair (1.165 on astronaut/coffee, not reached); --precision auto adds bf16 where the CPU has it",
            _recipe(stages=FAST_STAGES),
            FAST_CHOICES,
        ),
        Preset(
            "photoreal-hrnet",
            "004_5aaa351b94d2f6c0.txt ('All you need for Photorealistic Style Transfer in PyTorch', arXiv 1904.11617)",
            "trains the HRNet generator (not the pixels): content 150 at conv4_2, style 1 on conv1_1..conv5_1 with "
            "layer weights 0.1, 0.2, 0.4, 0.8, 1.6, Gram matrices compared per pixel; Adam lr 5e-3, x0.9 every 200 "
            "steps, 1000 steps; content resized to 500x500, the style image at its own size",
            _photoreal(steps=1000, content_layers=("conv4_2",)),
            (
                "The document shows no training loop and no values for its content_weight, style_weight and "
                "style_weights (it quotes the paper's ranges, content 50-100 and style 1-10): Adam lr 5e-3, x0.9 "
                "every 200 steps, 1000 steps, content 150, style 1 and layer weights 0.1 ... 1.6 are the values "
                "this project's issue 7 gives for it (they are its repository's config.py).",
                STYLE_GRAM_CHOICE,
                "Its get_features taps torchvision layers 0, 5, 10, 19, 28 and 21, whose in-place ReLUs turn them "
                "into ReLU outputs (docs/porting.md, pitfall 1); this preset taps the conv outputs the document "
                "names (conv1_1 ... conv4_2), as the d2l presets do. photoreal-hrnet-repo taps the ReLU outputs.",
                "Inputs are ImageNet-normalized (its load_image); the generator's output goes to VGG as it is, with "
                "no activation or clamp, and is read back as a normalized image (its im_convert: x std + mean, "
                "clipped to [0, 1]). --no-normalize feeds [0, 1] pixels instead.",
                "The content image's sides must be divisible by 4 (the generator downsamples by 2 twice and by 4 "
                "once, then upsamples back and concatenates): other sizes are refused with one line, not resized. "
                "Its load_image resizes to a square 500x500 whatever the aspect; so does this preset (--size).",
                "The document's BottleneckBlock adds the residual in place (out += residual) to a ReLU output, "
                "which torch's autograd rejects at backward; this computes out + residual, the same number.",
                "The Bottleneck shortcut is built only where the channel counts differ: the document's forward "
                "never uses it otherwise, so those unused parameters are not part of a saved model.",
                "The generator's initial weights are torch's default Conv2d initialization, drawn in numpy from "
                "--seed (so both backends start from the same network).",
            ),
        ),
        Preset(
            "photoreal-hrnet-repo",
            "004_5aaa351b94d2f6c0.txt and the repository its code comes from (KushajveerSingh/Photorealistic-"
            "Style-Transfer, src/style_transfer.py, utils.py, config.py)",
            "photoreal-hrnet as the repository's code computes it: ReLU outputs relu1_1..relu5_1 and relu4_2 "
            "(torchvision's in-place ReLUs), Gram matrices summed over each image's own pixels (--style-gram sum), "
            "the style image at its own size; 1001 steps",
            _photoreal(
                steps=1001,
                content_layers=("relu4_2",),
                style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                style_gram="sum",
            ),
            (
                "Its get_features stores the output of layers 0, 5, 10, 19, 28 and 21, which the next in-place "
                "ReLU of torchvision's VGG-19 overwrites: the losses see relu1_1 ... relu5_1 and relu4_2. Its style "
                "loss sums each Gram matrix over the image's own positions and divides by the output's c h w; the "
                "style image is loaded at its own size. This preset computes exactly that: tested against a "
                "re-implementation of its code in float64 (tests/test_photoreal_repo.py), step-0 losses within "
                "1e-6 in both backends.",
                "With a style image of more pixels than the output (the document's own example: 500x500 content, "
                "800x800 style, 2.56x), these summed Gram targets are out of reach of in-range pixels and the "
                "output drifts to white or black (docs/photoreal.md); above 2x a warning says so.",
                "It trains for range(steps + 1) = 1001 steps and calls scheduler.step() before optimizer.step(), "
                "so its learning rate is multiplied by 0.9 one step earlier (its 200th step already runs at "
                "4.5e-3). This preset decays after every 200 steps, the StepLR schedule both backends share.",
                "Its load_image resizes the content with Image.resize's default filter (NEAREST in the Pillow of "
                "2019, BICUBIC since Pillow 7) and keeps an image's mode; here the content is resized with PIL "
                "bilinear and converted to RGB, as every input of this project is (same numbers at the content's "
                "own size).",
            ),
        ),
    )
}


SIZING = {"size", "max_side", "min_side"}  # three ways to size a run: one given explicitly replaces the others


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
    if SIZING & set(explicit):  # an explicit --size, --max-side or --min-side replaces the preset's way of sizing
        values.update(dict.fromkeys(SIZING - set(explicit)))
    layers_given = explicit.get("style_layers")
    if layers_given is not None and len(values.get("style_layer_weights", ())) != len(layers_given):
        values["style_layer_weights"] = ()  # the preset's layer weights belong to its layers: equal weights instead
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
                    + (f", the image as a pyramid of {st.levels} levels" if st.levels > 1 else "")
                )
        elif key == "method" and value == "gatys":
            continue
        elif value not in (None, ()):
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
            lines.append(f"    {key.replace('_', '-')}: {shown}")
    for choice in preset.choices:
        lines.append(f"  choice: {choice}")
    return "\n".join(lines)
