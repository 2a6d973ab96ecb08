"""Every refusal of a run, made once, before any framework loads: the settings (and a checkpoint's), the inputs, the
outputs and where they may go, the sizes, the memory, the precision. nst stylize and nst photoreal, nst batch (each
job, its outputs confined to --output-dir) and nst serve (each backend's job) all plan a run with make(), so all
three refuse the same things with the same line. A method (gatys.Gatys, photoreal.Hrnet) says what is its own."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from ..core import cpu, precision, weights
from ..core.errors import UserError
from ..core.interface import Backend
from . import checkpoint, images, memory, paths, presets
from .run import (
    Say,
    check_input_files,
    check_outputs,
    content_path,
    derived_outputs,
    run_size,
    style_paths,
    tapped_layers,
    warn,
    warn_if_squashed,
)
from .settings import SPECS, Role, Settings, Stage, check_method, named, output_files


class ImageSource:
    """How a plan reads its input files: each image loaded and checked as a run reads it, and each file's
    fingerprint (nst batch, planning thousands of jobs, keeps one answer per file)."""

    def image(self, path: str, what: str, min_size: bool = True) -> Image.Image:
        """The image, checked (large enough where asked); UserError in one line for a bad one."""
        img = images.load_image(path, what)
        if min_size:
            images.check_size(img, f"{what} {path!r}")
        return img

    def fingerprint(self, path: str) -> str:
        """SHA-256 of the file's bytes."""
        return checkpoint.fingerprint(path)


FILES = ImageSource()


@dataclass(frozen=True)
class Sized:
    """An image as a plan that keeps only sizes sees it: its (width, height)."""

    size: tuple[int, int]


class FilesOnce(ImageSource):
    """Each input file read and checked once, however many runs use it (nst batch plans thousands of jobs on a few
    hundred images): only its size is kept, which is all a plan needs, and its fingerprint."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str, bool], tuple[int, int] | str] = {}
        self.fingerprints: dict[str, str] = {}

    def image(self, path: str, what: str, min_size: bool = True) -> Sized:
        """The image's size, or UserError as the run would say it (each file read once)."""
        key = (path, what, min_size)
        if key not in self.answers:
            try:
                self.answers[key] = super().image(path, what, min_size).size
            except UserError as e:
                self.answers[key] = str(e)
        answer = self.answers[key]
        if isinstance(answer, str):
            raise UserError(answer)
        return Sized(answer)

    def fingerprint(self, path: str) -> str:
        """SHA-256 of the file, computed once."""
        if path not in self.fingerprints:
            self.fingerprints[path] = super().fingerprint(path)
        return self.fingerprints[path]


@dataclass
class Inputs:
    """The images a run reads, loaded and checked, and the fingerprints a checkpoint keeps of their files."""

    content_path: str
    style_paths: list[str]
    content: Image.Image
    styles: list[Image.Image]
    init: Image.Image | None
    fingerprints: dict[str, str]

    @classmethod
    def load(cls, s: Settings, source: ImageSource = FILES) -> Inputs:
        """Load --content, every --style and an --init image path; UserError in one line for a bad one."""
        content_file, style_files = content_path(s), style_paths(s)
        content = source.image(content_file, "content image")
        styles = [source.image(path, "style image") for path in style_files]
        init = source.image(s.init, "--init image", False) if paths.is_path("init", s.init) else None
        files = [content_file, *style_files] + ([s.init] if init is not None else [])
        fingerprints = {os.path.realpath(path): source.fingerprint(path) for path in files}
        return cls(content_file, style_files, content, styles, init, fingerprints)


class Method(Protocol):
    """What a method (the Gatys pixels, the HRNet generator) adds to the one plan and the one job (job.py)."""

    name: str

    def check_sizes(self, s: Settings, inputs: Inputs, size: tuple[int, int], stages: tuple[Stage, ...]) -> None:
        """UserError when an image would be too small (or of a size the method cannot take)."""

    def memory_sizes(self, s: Settings, inputs: Inputs, size: tuple[int, int], stages: tuple[Stage, ...]) -> Any:
        """What the memory estimate needs: the image sizes the run computes at (None: not estimated)."""

    def warnings(self, s: Settings, inputs: Inputs, size: tuple[int, int]) -> list[str]:
        """Warning lines about the run (it still runs)."""

    def prepare(self, ops: Backend, plan: Plan, net: Any, names: tuple[str, ...], say: Say) -> Any:
        """The framework's objects the run needs (objective, generator): after the backend loaded."""

    def optimize(self, run: Any, work: Any, stop_requested: Callable[[], bool]) -> None:
        """Every stage's steps, through run (job.Run); run.status says how it ended."""

    def write_outputs(self, run: Any, work: Any) -> str:
        """The method's own outputs, written at the end; what they are, for the closing line (' and ...')."""

    def describe(self, size: tuple[int, int]) -> str:
        """What the run is, for the loss plot's title."""


@dataclass
class Plan:
    """A run that passed every check: its settings, checkpoint, method, inputs, size, stages and outputs."""

    settings: Settings
    ckpt: checkpoint.Checkpoint | None
    method: Method
    inputs: Inputs
    size: tuple[int, int]
    stages: tuple[Stage, ...]
    outputs: list[paths.Named]  # every file the run may write, by the flag that names it

    @property
    def total(self) -> int:
        """Steps in all stages."""
        return sum(stage.steps for stage in self.stages)


def make(
    settings: Settings,
    methods: Mapping[str, Method],
    say: Say = warn,
    source: ImageSource = FILES,
    confine: Path | None = None,
) -> Plan:
    """Check everything a run can be refused for, in one place, and return its plan; UserError for the first
    problem. ``methods``: each method by its name (stylize.METHODS); ``confine``: every output must lie inside this
    folder (nst batch's --output-dir)."""
    s, ckpt = resume(settings, say)
    check_method(s)
    method = methods[s.method]
    stages = s.run_stages()
    outputs = check_outputs(s, output_files(s.method), derived_outputs(s, sum(stage.steps for stage in stages)))
    if confine is not None:
        check_confined(outputs, confine)
    check_input_files(s)
    if paths.is_path("weights", s.weights):
        weights.file_format(s.weights)
    inputs = Inputs.load(s, source)
    if ckpt is not None and ckpt.fingerprints != inputs.fingerprints:
        raise UserError("an input image changed since the checkpoint was written; the run cannot continue it")
    size = run_size(s, inputs.content)
    method.check_sizes(s, inputs, size, stages)
    check_memory(s, method.memory_sizes(s, inputs, size, stages))
    cpu.check_precision(s.precision, s.device, resuming=ckpt is not None)
    if s.max_side is None and s.min_side is None:  # after every refusal: a refused run says one line
        warn_if_squashed(inputs.content, size, "content image", say)
    for line in method.warnings(s, inputs, size):
        say(line)
    return Plan(s, ckpt, method, inputs, size, stages, outputs)


def check_confined(outputs: list[paths.Named], folder: Path) -> None:
    """UserError for an output outside ``folder`` (by its resolved path: `..`, absolute paths and links count)."""
    for flag, path in outputs:
        if not paths.is_within(path, folder):
            raise UserError(f"{flag} {str(path)!r} is outside the output folder {str(folder)!r}; give a path inside it")


def check_memory(s: Settings, sizes: Any) -> None:
    """Refuse, before anything is allocated, a run whose estimated peak exceeds the memory available."""
    if s.device != "cpu" or sizes is None:
        return  # the estimates are for CPU runs
    _, deepest, _ = tapped_layers(s)
    have = memory.available()
    largest = max(sizes, key=lambda hw: hw[0] * hw[1])
    need = memory.estimate(s.backend, largest, s.dtype, s.precision, deepest, s.method)
    if need is None or have is None or need <= have:
        return
    base, factor = memory.coefficients(s.backend, s.dtype, s.precision, s.method)
    h, w = memory.largest_size(have, base, factor, s.dtype, aspect=largest[0] / largest[1])
    hint = f"--max-side {max(h, w)} would fit" if min(h, w) >= 16 else "no image size fits"
    raise UserError(
        f"a {largest[0]}x{largest[1]} run needs about {need / 2**30:.1f} GiB (estimated), and {have / 2**30:.1f} "
        f"GiB are available: {hint}"
    )


def resume(settings: Settings, say: Say | None = None) -> tuple[Settings, checkpoint.Checkpoint | None]:
    """The validated settings a run goes on with and the checkpoint it continues (--resume; its settings decide
    the method too), or the settings validated and None; --precision auto made the precision it runs in."""
    if not settings.resume:
        return chosen_precision(settings.validated(), say), None
    ckpt = checkpoint.load(settings.resume)
    return resumed_settings(settings, ckpt).validated(), ckpt


def chosen_precision(s: Settings, say: Say | None = None, backend: str | None = None) -> Settings:
    """The settings with --precision auto made bf16 or fp32 for the backend (default the settings'), device and
    CPU, the choice and its reason said in one line; other precisions as they are."""
    if s.precision != precision.AUTO:
        return s
    chosen, why = precision.auto(backend or s.backend, s.device)
    if say is not None:
        say(f"--precision auto runs {chosen}: {why}")
    return s.replace(precision=chosen)


def resumed_settings(s: Settings, ckpt: checkpoint.Checkpoint) -> Settings:
    """The checkpoint's settings, with the output settings given now (those not given: the checkpoint's, which
    are absolute paths, so the run finishes the files it promised); UserError if anything else differs.

    A setting differs when it is neither the checkpoint's value (an input named by another spelling of the same
    file is no difference) nor what the command gives unasked (the defaults, with the command's preset: nst
    photoreal's is photoreal-hrnet).
    """
    saved = Settings.from_dict(ckpt.settings)
    now, unasked = chosen_precision(s.validated(), backend=saved.backend), presets.settings({}, s.preset)
    for name in named(Role.RECIPE) + named(Role.INPUT):
        value, then = getattr(now, name), getattr(saved, name)
        if not paths.same_inputs(name, value, then) and value != getattr(unasked, name):
            if name == "method":
                raise UserError(f"the checkpoint holds a run of the {then} method; resume it without choosing one")
            flag = SPECS[name].label
            raise UserError(f"{flag} cannot change when resuming: the checkpoint was made with {flag} {then}")
    given = {name: getattr(s, name) for name in named(Role.OUTPUT) if getattr(s, name) is not None}
    given.update({name: getattr(s, name) for name in named(Role.NOW)})  # about this process: never the checkpoint's
    return saved.replace(**given)
