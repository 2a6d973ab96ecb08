"""Everything framework-free, in three layers, each using only the ones below it:

    core/     the contract every backend implements (interface.py) and its framework-free math
    jobs/     settings and presets, the stylize and photoreal jobs, and the files they read and write
    studies/  around the jobs: parity, bench, compare, FLOPs, the porting guide (not imported here)

Importing it imports no framework. The Python API::

    import common                          # installed: from nst import common
    torch_ops = common.load_backend("torch")
    net = torch_ops.vgg19(weights="random", seed=0)
    features = torch_ops.feature_extractor(net, ["conv1_1", "relu4_2"])
    result = common.stylize(common.Settings(backend="mxnet", steps=100))
"""

from . import core, jobs
from .core import (
    BACKENDS,
    Backend,
    BackendUnavailable,
    Diverged,
    Interrupted,
    LossWeights,
    NSTError,
    Objective,
    Trainer,
    UserError,
    VGGWeights,
    WeightsUnavailable,
    compute_loss,
    is_installed,
    load_backend,
    random_vgg19,
)
from .jobs import Result, Settings
from .jobs.stylize import stylize

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
    "VGGWeights",
    "WeightsUnavailable",
    "compute_loss",
    "core",
    "is_installed",
    "jobs",
    "load_backend",
    "random_vgg19",
    "stylize",
]
