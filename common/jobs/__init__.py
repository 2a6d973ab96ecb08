"""The jobs: from settings to files, as the CLI and the Python API run them.

settings   every setting of a run, validated          presets   the documents' recipes
flags      the settings as command-line flags          stylize   the job: the Gatys method (gatys.py)
photoreal  the HRNet generator's job                   run       what both jobs share
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
    memory,
    models,
    outputs,
    paths,
    photoreal,
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
    "memory",
    "models",
    "outputs",
    "paths",
    "photoreal",
    "presets",
    "record",
    "run",
    "samples",
    "settings",
    "signals",
    "stylize",
]
