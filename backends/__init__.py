"""One implementation of the common contract per framework, with the same module names in each:

    processing.py  tensors in and out, preprocessing      losses.py   gram, content, style, TV
    vgg.py         VGG-19 features and the extractor      trainer.py  SynthesizedImage, Adam, one step
    weights.py     the framework's weight files and its ImageNet download

Nothing here imports a framework: ``common.load_backend(name)`` (common/core/interface.py) imports
``backends.<name>`` when it is chosen.
"""

import importlib

# A checkout imports the packages as top-level `common` and `backends`; installed, they are `nst.common` and
# `nst.backends`. Either way a backend module reaches the contract, and only the contract, with `from .. import core`.
core = importlib.import_module(__name__.rpartition("backends")[0] + "common.core")
