"""What the two jobs (stylize: the image's pixels; photoreal: a generator) share: their result, the warning line,
the run's size, its outputs' checks, its input images, its VGG-19 weights and its run record."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..core import layers
from ..core.errors import UserError
from ..core.files import check_input_file
from ..core.interface import Backend
from ..core.recipe import D2L
from ..core.training import StepRecord
from ..core.weights import VGGWeights
from . import checkpoint, images, paths, record, samples
from .outputs import IMAGE_EXTENSIONS, check_name_fits, check_writable
from .settings import Settings

Say = Callable[[str], None]
# Called after every completed step with its record and a function that renders the current picture (the
# function costs a postprocess, or a generator's forward pass, so an observer calls it only when it wants one).
Observer = Callable[[StepRecord, Callable[[], Image.Image]], None]


@dataclass
class Result:
    """What a run produced: the final image, its history, the weights it used and how it ended."""

    image: Image.Image
    history: list[StepRecord]
    status: str
    weights: str
    settings: Settings
    record: dict[str, Any] = field(default_factory=dict)


def warn(message: str) -> None:
    """Print one warning line on stderr."""
    print(f"warning: {message}", file=sys.stderr)


def run_size(s: Settings, content: Image.Image) -> tuple[int, int]:
    """The final (H, W): --size, else from --max-side or --min-side and the content's aspect, else 300 x 450."""
    if s.size is not None:
        return s.size
    if s.max_side is not None:
        return images.fit_size(content, s.max_side)
    if s.min_side is not None:
        return images.shorter_side_size(content, s.min_side)
    return D2L["size"]


def check_outputs(
    s: Settings, others: Sequence[tuple[str, tuple[str, ...], str]], derived: Sequence[paths.Named] = ()
) -> list[paths.Named]:
    """Refuse, before any work, an --output or another output setting (name, extensions, what) that cannot be
    written, and any output (also those ``derived`` from them) that is an input or another output; every output."""
    check_writable(s.output, IMAGE_EXTENSIONS)
    for name, extensions, what in others:
        path = getattr(s, name)
        if path:
            check_writable(path, extensions, what)
    outputs = [("--output", s.output)] + [(f"--{n.replace('_', '-')}", getattr(s, n)) for n, _, _ in others]
    written = [(flag, p) for flag, p in [*outputs, *derived] if p]
    allowed = {("--checkpoint", "--resume"), ("the checkpoint an interruption writes", "--resume")}
    paths.check_distinct(input_files(s), written, allowed)
    check_derived(s, derived)
    return written


def intermediate_path(output: str, step: int) -> str:
    """out.png -> out_step0050.png."""
    p = Path(output)
    return str(p.with_name(f"{p.stem}_step{step:04d}{p.suffix}"))


def frame_mark(output: str) -> str:
    """What a --save-every image says it is (images.written_by): a frame of this output."""
    return f"nst --save-every frame of {os.path.realpath(output)}"


def check_derived(s: Settings, derived: Sequence[paths.Named]) -> None:
    """UserError when a derived file's name is taken by a file this command did not write there before: a frame
    that is no frame of this --output, a file where an interruption's checkpoint goes that is no checkpoint of it."""
    for what, path in derived:
        if what == "--save-every":
            images.check_derived_image(
                path, frame_mark(s.output), "--save-every image", "move it, or choose another --output"
            )
        elif os.path.lexists(path) and not (s.resume and paths.same_file(path, s.resume)):
            try:
                then = checkpoint.load(path).settings.get("output")
            except UserError:
                then = None
            if then is None or not paths.same_file(then, s.output):
                raise UserError(
                    f"{str(path)!r} exists and is no checkpoint of --output {s.output!r}; an interrupted run writes "
                    "its checkpoint there: move it, or give --checkpoint"
                )


def frame_paths(s: Settings, total_steps: int) -> list[str]:
    """The --save-every images the run writes (every N steps, but not the last: that one is --output)."""
    if not s.save_every:
        return []
    return [intermediate_path(s.output, step) for step in range(s.save_every, total_steps, s.save_every)]


def derived_outputs(s: Settings, total_steps: int) -> list[tuple[str, str]]:
    """The files a run writes beside the ones named by flags: (what, path) of the --save-every images and, with no
    --checkpoint, the checkpoint an interruption writes; UserError if the longest frame name cannot be made."""
    frames = frame_paths(s, total_steps)
    if frames:  # the last frame has the longest name
        check_name_fits(frames[-1], "--save-every image")
    derived = [("--save-every", path) for path in frames]
    if not s.checkpoint:
        derived.append(("the checkpoint an interruption writes", checkpoint.default_path(s.output)))
    return derived


def input_files(s: Settings) -> list[paths.Named]:
    """Every file a run reads, with the flag that names it."""
    found = [("--content", content_path(s))] + [("--style", p) for p in style_paths(s)]
    for name in ("init", "weights", "resume"):
        if paths.is_path(name, getattr(s, name)):
            found.append((f"--{name}", getattr(s, name)))
    return found


def check_input_files(s: Settings) -> None:
    """Refuse, before a backend is loaded, a --weights path that is not a regular file (the images are checked as
    they load, a checkpoint as it is read)."""
    if paths.is_path("weights", s.weights):
        check_input_file(s.weights, "weights file", "a weights file")


def warn_if_squashed(image: Image.Image, size: tuple[int, int], what: str, say: Say) -> None:
    """One warning line when an image's aspect ratio differs from the size it is resized to by more than 2x."""
    w, h = image.size
    change = (w / h) / (size[1] / size[0])
    if max(change, 1 / change) > 2:
        say(
            f"the {what} is {h}x{w} (height x width) and is resized to {size[0]}x{size[1]}: its aspect ratio is "
            f"squashed {max(change, 1 / change):.1f}x; --max-side or --min-side keep it"
        )


def content_path(s: Settings) -> str:
    """--content, or the bundled sample."""
    return s.content or str(samples.sample_path(samples.CONTENT))


def style_paths(s: Settings) -> list[str]:
    """--style, or the bundled sample."""
    return list(s.style) or [str(samples.sample_path(samples.STYLE))]


def tapped_layers(s: Settings) -> tuple[tuple[str, ...], layers.Layer, int]:
    """Every tapped layer (content first), the deepest one, and the smallest image side it allows."""
    names = tuple(dict.fromkeys(s.content_layers + s.style_layers))
    deepest = layers.deepest(names)
    return names, deepest, max(images.MIN_SIDE, layers.min_side(deepest))


def vgg_weights(ops: Backend, s: Settings, deepest: layers.Layer, say: Say) -> VGGWeights:
    """The VGG-19 weights --weights names, with one warning when "auto" had to fall back to random ones."""
    weights = ops.resolve_weights(s.weights, s.seed, deepest)
    if s.weights == "auto" and weights.source == "random":
        say(
            f"no ImageNet VGG-19 weights for {ops.name} (not cached, no network): using seeded random weights "
            f"(seed {s.seed}); they transfer colour and coarse texture, not the painterly detail of trained ones"
        )
    return weights


def write_record(
    s: Settings, ops: Backend, weights: VGGWeights, status: str, started: float, history: list[StepRecord], what: str
) -> dict[str, Any]:
    """The run record of a finished job, written to --log, and its loss curves drawn to --plot if asked."""
    run_record = {
        "settings": s.as_dict(),
        "weights": weights.description,
        "versions": record.versions(ops.framework, ops.version),
        "command": record.dumps_argv(),
        "status": status,
        "seconds": round(time.time() - started, 3),
        "history": [r.as_dict() for r in history],
        "output": str(Path(s.output).resolve()),
    }
    if s.log:
        record.write(s.log, run_record)
    if s.plot and history:
        from .plotting import plot_losses

        plot_losses(history, s.plot, f"{ops.name} backend, {what}")
    return run_record
