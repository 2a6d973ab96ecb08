"""The photoreal method: train the HRNet generator on one content and one style image (``nst photoreal``,
``nst stylize --preset photoreal-hrnet``), run by the one job pipeline (job.py) after the one plan (plan.py); apply.py
runs a saved generator on other images (``nst apply``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..core.errors import UserError
from ..core.hrnet import check_size, random_generator
from ..core.interface import Backend, Tensor
from ..core.objective import LossWeights
from ..core.photoreal_objective import PhotorealObjective
from ..core.training import Trainer
from . import images
from .models import save_model
from .plan import Inputs, Plan
from .run import Say, tapped_layers
from .settings import Settings, Stage

# Above this many times the output's pixels, a style image's summed Gram matrices (--style-gram sum) are out of
# reach of in-range pixels: docs/photoreal.md's measurements (4x drifts to black) and the warning's threshold.
STYLE_PIXELS_WARNING = 2.0


def style_size(style: Image.Image, max_side: int | None) -> tuple[int, int]:
    """The style image's own (H, W), scaled down so that its longer side is at most max_side."""
    w, h = style.size
    if max_side is None or max(w, h) <= max_side:
        return h, w
    return images.fit_size(style, max_side)


def generator_trainer(
    ops: Backend, s: Settings, generator: object, objective: PhotorealObjective, X: Tensor
) -> Trainer:
    """Adam on the generator's parameters, the learning rate x factor every N steps; the generator's input is X."""
    return ops.trainer(generator, objective, s.lr, s.lr_decay_every, s.lr_decay_factor, inputs=(X,))


class Hrnet:
    """The photoreal method (train the HRNet generator) for the plan (plan.Method) and the job (job.py)."""

    name = "hrnet"

    def check_sizes(self, s: Settings, inputs: Inputs, size: tuple[int, int], stages: tuple[Stage, ...]) -> None:
        """UserError for an output size the generator cannot take, or an image too small for the deepest layer."""
        sized_by = "--max-side" if s.max_side else "--min-side" if s.min_side else "--size"
        check_size(size, f"the content image's size ({sized_by})")
        _, deepest, need = tapped_layers(s)
        at_style = style_size(inputs.styles[0], s.style_max_side)
        for what, (h, w) in (
            (f"content image ({sized_by})", size),
            (f"style image {inputs.style_paths[0]!r}", at_style),
        ):
            if min(h, w) < need:
                raise UserError(
                    f"the {what} is {h}x{w} pixels; layer {deepest.name} needs at least {need} on each side"
                )

    def memory_sizes(
        self, s: Settings, inputs: Inputs, size: tuple[int, int], stages: tuple[Stage, ...]
    ) -> list[tuple[int, int]]:
        """The size the generator trains at (the content's): its coefficients were fitted to runs against one style
        image (512x512), whose one forward pass, without gradients, the training's peak outgrows."""
        return [size]

    def warnings(self, s: Settings, inputs: Inputs, size: tuple[int, int]) -> list[str]:
        """The summed Gram matrices' drift, when the style image has many times the output's pixels."""
        (sh, sw), (h, w) = style_size(inputs.styles[0], s.style_max_side), size
        factor = sh * sw / (h * w)
        if s.style_gram != "sum" or factor <= STYLE_PIXELS_WARNING:
            return []
        return [
            f"the style image ({sh}x{sw}) has {factor:.1f}x the output's pixels ({h}x{w}): with --style-gram sum "
            "its Gram targets are out of reach and the output may drift to black or white; use --style-gram "
            "per-pixel or --style-max-side"
        ]

    def prepare(self, ops: Backend, plan: Plan, net: Any, names: tuple[str, ...], say: Say) -> Work:
        """The objective on the content and the style image at its own size, and the seeded generator."""
        s, inputs = plan.settings, plan.inputs
        content_X = ops.preprocess(inputs.content, plan.size, s.dtype, s.normalize)
        style_X = ops.preprocess(inputs.styles[0], style_size(inputs.styles[0], s.style_max_side), s.dtype, s.normalize)
        loss_weights = LossWeights(s.content_weight, s.style_weight, s.tv_weight, tuple(s.style_layer_weights))
        extractor = ops.feature_extractor(net, names)
        objective = PhotorealObjective(
            ops, extractor, s.content_layers, s.style_layers, content_X, style_X, loss_weights, s.style_gram
        )
        return Work(ops.generator(random_generator(s.seed), s.dtype), objective, content_X)

    def optimize(self, run: Any, work: Work, stop_requested: Callable[[], bool]) -> None:
        """Adam on the generator's parameters, from the checkpoint where there is one."""
        s = run.s
        run.start_stage(0, generator_trainer(run.ops, s, work.generator, work.objective, work.content_X))
        run.run_steps(s.steps - run.steps_done, stop_requested)

    def write_outputs(self, run: Any, work: Work) -> str:
        """The trained generator (--save-model), unless the run diverged."""
        s, history, ops = run.s, run.history, run.ops
        if not s.save_model or run.status == "diverged":
            return ""
        meta = {
            "trained_by": ops.name,
            "dtype": s.dtype,
            "normalize": s.normalize,
            "size": list(run.plan.size),
            "steps": len(history),
            "status": run.status,
            "seed": s.seed,
        }
        save_model(s.save_model, ops.generator_arrays(work.generator), meta)
        return f" and the model {s.save_model}"

    def describe(self, size: tuple[int, int]) -> str:
        """The generator and the run's size."""
        return f"HRNet generator, {size[0]}x{size[1]}"


@dataclass
class Work:
    """What a photoreal run trains: the generator, its objective and its input (the content image)."""

    generator: Any
    objective: PhotorealObjective
    content_X: Tensor  # noqa: N815 (the math names of the objective)


HRNET = Hrnet()
