"""One implementation of the common contract per framework, with the same module names in each:

    processing.py  tensors in and out, preprocessing      losses.py   gram, content, style, TV
    vgg.py         VGG-19 features and the extractor      trainer.py  SynthesizedImage, Adam, one step
    weights.py     the framework's weight files, its names for the arrays, and its ImageNet download
    generator.py   the HRNet photorealistic generator

and the same data files, which common/ reads without importing the framework (common/core/registry.py, declared):

    weights.toml   its weight-file format: extensions, first bytes, how refusals name it
    memory.toml    its fitted memory model, by dtype and precision (written by benchmarks/memory.py)

Nothing here imports a framework: ``common.load_backend(name)`` (common/core/interface.py) imports
``backends.<name>`` when it is chosen. A new backend is a folder like these and a line in common/core/registry.py.
"""

import importlib

# A checkout imports the packages as top-level `common` and `backends`; installed, they are `nst.common` and
# `nst.backends`. Either way a backend module reaches the contract, and only the contract, with `from .. import core`.
core = importlib.import_module(__name__.rpartition("backends")[0] + "common.core")
