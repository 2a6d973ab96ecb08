"""The jobs: from settings to files, as the CLI and the Python API run them.

declared   every setting, declared once (spec.py, values.py)   settings  a run's settings: validated, derived
flags      the settings as command-line flags          presets   the documents' recipes
plan       every refusal of a run, once                job       the one job pipeline both methods run
stylize    the job's entry: plan, then job             gatys, photoreal   the two methods   run   what they share
apply      nst apply: a saved generator on images
signals    SIGINT/SIGTERM as a request to stop          checkpoint, models, record   what a run writes
images     image files in and out                       outputs   atomic writes, writability
paths      which files a run reads and writes: no output may be an input or another output
memory     a run's memory, estimated before it starts   samples   the bundled sample images
plotting   loss curves                                  convert   weight files between frameworks
children   a function run in a fresh process (compare, bench)
"""

from . import (
    apply,
    checkpoint,
    children,
    convert,
    flags,
    gatys,
    images,
    job,
    memory,
    models,
    outputs,
    paths,
    photoreal,
    plan,
    presets,
    record,
    run,
    samples,
    settings,
    signals,
    stylize,
)
from .run import Result
from .settings import Settings

__all__ = [
    "Result",
    "Settings",
    "apply",
    "checkpoint",
    "children",
    "convert",
    "flags",
    "gatys",
    "images",
    "job",
    "memory",
    "models",
    "outputs",
    "paths",
    "photoreal",
    "plan",
    "presets",
    "record",
    "run",
    "samples",
    "settings",
    "signals",
    "stylize",
]
