"""Everything framework-free: the backend contract, VGG-19 layer names, settings, image I/O, the numpy
reference of every loss, the objective and the optimization loop. Importing it imports no framework.

The Python API::

    import common                          # installed: from nst import common
    torch_ops = common.load_backend("torch")
    net = torch_ops.vgg19(weights="random", seed=0)
    features = torch_ops.feature_extractor(net, ["conv1_1", "relu4_2"])
    result = common.stylize(common.Settings(backend="mxnet", steps=100))
"""

from . import (
    batch,
    bench,
    compare,
    convert,
    cpu,
    flops,
    images,
    layers,
    memory,
    outputs,
    parity,
    photoreal,
    photoreal_job,
    port_guide,
    presets,
    record,
    reference,
    samples,
    settings,
    training,
    weights,
)
from .errors import BackendUnavailable, Diverged, Interrupted, NSTError, UserError, WeightsUnavailable
from .interface import Backend, Trainer
from .job import Result, stylize
from .objective import LossWeights, Objective, compute_loss
from .registry import BACKENDS, is_installed, load_backend
from .settings import Settings
from .weights import Weights, random_vgg19

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailable",
    "Diverged",
    "Interrupted",
    "LossWeights",
    "NSTError",
    "Objective",
    "Result",
    "Settings",
    "Trainer",
    "UserError",
    "Weights",
    "WeightsUnavailable",
    "batch",
    "bench",
    "compare",
    "compute_loss",
    "convert",
    "cpu",
    "flops",
    "images",
    "is_installed",
    "layers",
    "load_backend",
    "memory",
    "outputs",
    "parity",
    "photoreal",
    "photoreal_job",
    "port_guide",
    "presets",
    "random_vgg19",
    "record",
    "reference",
    "samples",
    "settings",
    "stylize",
    "training",
    "weights",
]
