"""Every setting of a style-transfer run, declared once: its default (the d2l recipe, common/core/recipe.py), what
it is to a run (Role), the kind of value it takes (values.py), its flag, its help, which methods take it, whether
the page offers it and whether a batch job can take it (spec.Spec). The CLI's flags (flags.py), manifest columns
(nst batch), the page's form and API (nst serve), the resume comparison, the batch settings hash, the output checks
and the documentation's flag table are derived from these declarations (settings.SPECS)."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.photoreal_objective import GRAMS
from ..core.recipe import D2L
from ..core.registry import NAMES
from . import value_lists, values
from .spec import (
    DTYPES,
    GATYS,
    HRNET,
    IMAGES,
    INITS,
    METHODS,
    NO_BATCH,
    OPTIMIZERS,
    POOLINGS,
    PRECISIONS,
    WEIGHT_SPECS,
    Role,
    declare,
)

R, IN, OUT, NOW = Role.RECIPE, Role.INPUT, Role.OUTPUT, Role.NOW
V, L = values, value_lists


@dataclass(frozen=True)
class Stage:
    """One stage of a coarse-to-fine run: a fraction of the final size and, where set, its own schedule."""

    scale: float = 1.0
    steps: int | None = None  # None: the run's --steps
    lr: float | None = None
    lr_decay_every: int | None = None
    lr_decay_factor: float | None = None
    levels: int = 1  # > 1: the image is a pyramid of that many levels, each a parameter (core/pyramid.py)


@dataclass(frozen=True)
class Declared:
    """Every setting of a run and its declaration (Spec); defaults are the d2l PyTorch recipe (core/recipe.py).
    settings.Settings adds what a run does with them. Each help is the setting's one description: the CLI's --help,
    the page's form and the documentation's flag tables all say it."""

    # A table of declarations, one compact entry per setting: the formatter leaves it as written.
    # fmt: off

    preset: str | None = declare(
        None, R, V.Text(optional=True, metavar="NAME"), decides=False,
        help="every value of a recipe from the source documents (`nst presets` lists them); flags given explicitly "
        "override it",
    )
    backend: str = declare(
        NAMES[0], R, V.Choice(options=NAMES, argparse_choices=False, metavar="|".join(NAMES)),
        help="which implementation runs",
    )
    method: str = declare(
        D2L["method"], R, V.Choice(options=METHODS), flag=None,
        help="gatys (optimize the pixels) or hrnet (train a generator: nst photoreal)",
    )
    content: str | None = declare(
        None, IN, V.Text(optional=True, metavar="IMAGE"), default_text="scikit-image's chelsea.png",
        help="content image (any PIL format; EXIF rotation applied, alpha composited on white)",
    )
    style: tuple[str, ...] = declare(
        (), IN, L.Files(), default_text="scikit-image's ihc.png",
        help="one or more style images; `--style a.png --style b.png` is `--style a.png b.png`",
    )
    style_weights: tuple[float, ...] = declare(
        (), R, L.Numbers(zero=True), methods=GATYS, default_text="equal",
        help="blend weights of several style images: each layer's target is the weighted mean of their Gram matrices",
    )
    style_scale: float | None = declare(
        D2L["style_scale"], R, V.Number(optional=True, metavar="S"), methods=GATYS, page=True,
        help="the style image keeps its aspect ratio, its longer side S x the result's (unset: resized to the "
        "result's size, as d2l does)",
    )
    style_layer_weights: tuple[float, ...] = declare(
        D2L["style_layer_weights"], R, L.Numbers(zero=True), page=True, default_text="all 1",
        help="one weight per style layer",
    )
    style_max_side: int | None = declare(
        D2L["style_max_side"], R, V.Int(optional=True, side=True, metavar="N"), methods=HRNET, page=True,
        refused="{flag} is for the photoreal method (nst photoreal); use --style-scale here",
        help="photoreal method only: the style image keeps its own size, its longer side capped at N",
    )
    style_gram: str = declare(
        D2L["style_gram"], R, V.Choice(options=GRAMS), methods=HRNET, page=True,
        refused="{flag} {value} is for the photoreal method (nst photoreal); d2l's Gram is per pixel",
        help="photoreal method only: compare the style's Gram matrices with the output's per pixel, or summed over "
        "each image's own pixels as document 004's code does (drifts when the style has more pixels)",
    )
    output: str | None = declare(
        None, OUT, V.Text(optional=True, metavar="IMAGE"), extensions=IMAGES, unset="stylized.png", called="output",
        help="the result; `.png .jpg .jpeg .bmp .tif .tiff .webp`",
    )
    size: tuple[int, int] | None = declare(
        None, R, L.Size(optional=True), page=True, default_text="300 450",
        help="rows and columns of the result; the images are resized to it (PIL bilinear)",
    )
    max_side: int | None = declare(
        D2L["max_side"], R, V.Int(optional=True, side=True, metavar="N"), page=True,
        help="instead of `--size`: the content image's aspect ratio, with the longer side N",
    )
    min_side: int | None = declare(
        D2L["min_side"], R, V.Int(optional=True, side=True, metavar="N"), page=True,
        help="instead of `--size`: the content image's aspect ratio, with the shorter side N",
    )
    scales: tuple[float, ...] = declare(
        D2L["scales"], R, L.Numbers(comma=True, scales=True, metavar="S,S,..."), methods=GATYS, page=True,
        help="coarse to fine, e.g. `0.25,0.5,1`: each stage starts from the previous result, upscaled, and runs "
        "`--steps` steps",
    )
    stages: tuple[Stage, ...] = declare(
        D2L["stages"], R, V.Kind(), flag=None, methods=GATYS, batch="is set by presets only",
        help="a staged recipe's stages (set by presets; overrides --scales)",
    )
    steps: int = declare(
        D2L["steps"], R, V.Int(metavar="N"), page=True, page_maximum=20000, help="steps (per scale)",
    )
    optimizer: str = declare(
        D2L["optimizer"], R, V.Choice(options=OPTIMIZERS), methods=GATYS, page=True,
        help="Adam and SGD as torch.optim computes them (also in MXNet); L-BFGS as torch.optim.LBFGS, one iteration "
        "per step, shared by both backends",
    )
    lr: float = declare(
        D2L["lr"], R, V.Number(metavar="LR"), page=True, help="learning rate (1 for lbfgs unless given)"
    )
    lr_decay_every: int = declare(
        D2L["lr_decay_every"], R, V.Int(metavar="N"), page=True,
        help="the learning rate is multiplied by `--lr-decay-factor` every N steps",
    )
    lr_decay_factor: float = declare(
        D2L["lr_decay_factor"], R, V.Number(maximum=1, too_large="a decay factor is at most 1", metavar="F"),
        page=True,
        help="the learning rate's decay factor",
    )
    content_weight: float = declare(
        D2L["content_weight"], R, V.Number(zero=True, metavar="W"), page=True, help="weight of the content loss"
    )
    style_weight: float = declare(
        D2L["style_weight"], R, V.Number(zero=True, metavar="W"), page=True, help="weight of the style loss"
    )
    tv_weight: float = declare(
        D2L["tv_weight"], R, V.Number(zero=True, metavar="W"), page=True, help="weight of the total variation loss"
    )
    content_layers: tuple[str, ...] = declare(
        D2L["content_layers"], R, L.Layers(), page=True,
        help="VGG-19 layers by name (`conv1_1` ... `relu5_4`, `pool1` ... `pool5`) or feature index (d2l: `25`)",
    )
    style_layers: tuple[str, ...] = declare(
        D2L["style_layers"], R, L.Layers(), page=True,
        help="VGG-19 layers by name or feature index (d2l: `0,5,10,19,28`)",
    )
    pooling: str = declare(D2L["pooling"], R, V.Choice(options=POOLINGS), page=True, help="VGG pooling")
    normalize: bool = declare(
        D2L["normalize"], R, V.Switch(), page=True, help="ImageNet mean/std normalization of the network's input"
    )
    clamp: bool = declare(
        D2L["clamp"], R, V.Switch(), methods=GATYS, page=True, help="clamp the image to valid pixels before every step"
    )
    init: str = declare(
        D2L["init"], R, V.KeywordOrPath(keywords=INITS, what="an image path"), methods=GATYS, page=True,
        help="the starting image (noise: uniform random pixels, the same in both backends for a seed)",
    )
    preserve_colors: bool = declare(
        False, R, V.Switch(), page=True,
        help="keep the content image's colours: the result's luminance with the content's chroma (YCbCr), as "
        "neural-style's `-original_colors`",
    )
    seed: int = declare(
        0, R, V.Int(minimum=0, metavar="N"), page=True,
        help="seeds random weights and noise; same seed, backend and machine give a bit-identical output",
    )
    device: str = declare(
        "cpu", R, V.Text(metavar="cpu|cuda:N"),
        help="where it runs (without a GPU, `cuda:N` is refused with one line)",
    )
    weights: str = declare(
        "auto", R, V.KeywordOrPath(keywords=WEIGHT_SPECS), page=True,
        help="VGG-19 weights: ImageNet's (through the framework's own download), seeded random ones, or a `.pth` or "
        "`.params` file; auto: ImageNet's where they can be had, else random with a warning",
    )
    dtype: str = declare(
        "float32", R, V.Choice(options=DTYPES), page=True,
        help="float64 is slow but is where the two backends agree to 1e-15",
    )
    precision: str = declare(
        "fp32", R, V.Choice(options=PRECISIONS), methods=GATYS, page=True,
        help="the fast mode: bf16 runs VGG in bfloat16 (torch autocast, channels_last; MXNet AMP) while the losses "
        "stay float32; auto: bf16 where the CPU has bf16 units and the backend runs it there (torch, MXNet), else fp32",
    )
    log: str | None = declare(
        None, OUT, V.Text(optional=True, metavar="RUN.json"), extensions=(".json",), called="run record",
        help="run record: `settings`, `weights`, `versions`, `history` (per step: `step`, `stage`, `content`, "
        "`style`, `tv`, `total`, `lr`, `seconds`), `status`, `output`",
    )
    plot: str | None = declare(
        None, OUT, V.Text(optional=True, metavar="LOSS.png"), extensions=(".png",), called="loss plot",
        help="content, style, TV and total loss over the steps",
    )
    save_every: int | None = declare(
        None, OUT, V.Int(optional=True, minimum=0, metavar="N"), unset=0, batch=NO_BATCH,
        help="also writes `out_step0050.png`, ... every N steps (named after `--output`; the last step is "
        "`--output` itself)",
    )
    gif: str | None = declare(
        None, OUT, V.Text(optional=True, metavar="PATH.gif"), methods=GATYS, extensions=(".gif",), called="animation",
        help="an animation of the progress (a frame every `--save-every` steps, or 50 frames in all)",
    )
    checkpoint: str | None = declare(
        None, OUT, V.Text(optional=True, metavar="PATH.npz"), extensions=(".npz",), called="checkpoint",
        batch="is not supported by nst batch (a job that stops is run again whole)",
        help="save the image (photoreal: the generator) and the optimizer state every `--checkpoint-every` steps",
    )
    checkpoint_every: int | None = declare(
        None, OUT, V.Int(optional=True, metavar="N"), unset=50, batch=NO_BATCH, page=True,
        help="steps between checkpoints",
    )
    resume: str | None = declare(
        None, NOW, V.Text(optional=True, metavar="PATH.npz"), batch=NO_BATCH,
        help="continue a checkpointed or interrupted run of either method, from any folder: the same result, in "
        "the same files, as a run that never stopped",
    )
    save_model: str | None = declare(
        None, OUT, V.Text(optional=True, metavar="MODEL.npz"), methods=HRNET, extensions=(".npz",), called="model",
        refused="{flag} saves a trained generator: it needs the photoreal method (nst photoreal)",
        help="photoreal method only: save the trained generator for `nst apply`",
    )
    quiet: bool = declare(
        False, NOW, V.Flag(), batch="is not a job setting in nst batch (nst batch --quiet hides the progress bar)",
        help="no progress bar and no summary line",
    )
    # fmt: on
