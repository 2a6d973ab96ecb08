"""The contract and its framework-free math: what every backend implements, and what is computed the same way
for all of them.

    interface    the Backend contract, documented once; load_backend      registry   backend names, lazy import
    layers       VGG-19's 37 layers by name and index                      weights    VGG-19 weight arrays and files
    pixels       the one resize, 8-bit pixels in and out                   reference  float64 numpy ground truth
    objective    the Gatys objective                                       hrnet      the HRNet generator's wiring
    photoreal_objective  the HRNet objective                               training   the optimization loop
    lbfgs        L-BFGS for every backend                                  recipe     the d2l recipe's values
    cpu          what the CPU is and runs fast                             errors     the errors a run ends with
    allocator    freed memory kept for reuse while the loop's steps run (glibc's malloc)
    files        what a path is (a file, a FIFO, a loop), asked before it is opened
    pyramid      the image as a pyramid of levels, each a parameter (a stage's levels)

Nothing here imports a framework; only ``load_backend`` imports one, when it is chosen.
"""

from . import (
    allocator,
    cpu,
    errors,
    files,
    hrnet,
    interface,
    layers,
    lbfgs,
    objective,
    photoreal_objective,
    pixels,
    pyramid,
    recipe,
    reference,
    registry,
    training,
    weights,
)
from .errors import BackendUnavailable, Diverged, Interrupted, NSTError, UserError, WeightsUnavailable
from .interface import Backend, load_backend
from .objective import LossWeights, Objective, compute_loss
from .registry import BACKENDS, is_installed
from .training import StepRecord, Trainer
from .weights import VGGWeights, random_vgg19

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendUnavailable",
    "Diverged",
    "Interrupted",
    "LossWeights",
    "NSTError",
    "Objective",
    "StepRecord",
    "Trainer",
    "UserError",
    "VGGWeights",
    "WeightsUnavailable",
    "allocator",
    "compute_loss",
    "cpu",
    "errors",
    "files",
    "hrnet",
    "interface",
    "is_installed",
    "layers",
    "lbfgs",
    "load_backend",
    "objective",
    "photoreal_objective",
    "pixels",
    "pyramid",
    "random_vgg19",
    "recipe",
    "reference",
    "registry",
    "training",
    "weights",
]
