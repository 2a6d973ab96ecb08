"""benchmarks/documents.py, the speed baseline, computes what the project computes: on the same weights and images its
per-step losses are the project's, so the step-time ratios of docs/speed.md compare equal work.

Where the documents differ from the project's defaults, the project is set to what they do: torchvision's in-place
ReLU overwrites each tapped conv output, so the documents' PyTorch code taps relu1_1 ... relu4_1 and relu4_4 (conv5_1,
the last layer, has no ReLU after it); the documents' MXNet code steps with Gluon's built-in 'adam' (epsilon added
before bias correction), the project with torch's formula (docs/porting.md), so there the project's network and
losses are stepped by Gluon's 'adam'. Exact comparisons run in float64; in float32, as the benchmark times them, the
first step's losses (before any rounding can steer the runs apart) are equal.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import get_backend

import common
from common.core import reference
from common.core.objective import make_objective
from common.studies.checks import step_differences

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import documents

STEPS = 5
SIZE = (32, 48)
TORCH_TAPS = (["relu4_4"], ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv5_1"])  # in-place ReLU: what d2l reads
CONV_TAPS = (documents.CONTENT_LAYERS, documents.STYLE_LAYERS)  # 25; 0, 5, 10, 19, 28: conv outputs
LR = {"torch": 0.3, "mxnet": 0.9}  # each document's own learning rate


def pixels() -> tuple[np.ndarray, np.ndarray]:
    """The content and style images, seeded random pixels."""
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8), rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)


@contextlib.contextmanager
def torch_default_dtype(dtype: str):
    """torch's default dtype set for the block (the documents' code makes its tensors and layers with it)."""
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def documents_losses(framework: str, dtype: str) -> np.ndarray:
    """Total loss of every step of the documents' code."""
    content, style = (reference.preprocess(p).astype(dtype) for p in pixels())
    weights = common.random_vgg19(0)
    if framework == "torch":
        with torch_default_dtype(dtype):
            step = documents.torch_step_factory(weights, content, style, lr=LR["torch"])
            return np.array([step() for _ in range(STEPS)])
    get_backend("mxnet")  # the backend sets MXNet's threads before mxnet is first imported
    step = documents.mxnet_step_factory(weights, content, style, lr=LR["mxnet"], dtype=dtype)
    return np.array([step() for _ in range(STEPS)])


def project_losses(framework: str, dtype: str, taps, gluon_adam: bool = False) -> np.ndarray:
    """Total loss of every step of the project's trainer on the same weights, images and learning rate."""
    ops = get_backend(framework)
    content, style = (ops.to_tensor(p, dtype) for p in pixels())
    objective = make_objective(ops, content, style, *taps, seed=0, dtype=dtype)
    trainer = ops.trainer(ops.synthesized_image(content), objective, LR[framework], 50, 0.8)
    if gluon_adam:  # the documents' optimizer instead of the project's (torch's formula)
        from mxnet import gluon

        trainer.trainer = gluon.Trainer(trainer.params, "adam", {"learning_rate": LR[framework]})
    return np.array([trainer.step()[3] for _ in range(STEPS)])


def test_the_documents_pytorch_code_computes_the_projects_losses_with_relu_taps() -> None:
    docs = documents_losses("torch", "float64")
    assert step_differences(docs, project_losses("torch", "float64", TORCH_TAPS))[1] <= 1e-12
    # the control: at the conv outputs the in-place ReLU overwrote, the losses are another computation
    assert step_differences(docs[:1], project_losses("torch", "float64", CONV_TAPS)[:1])[1] > 1e-3


def test_the_documents_mxnet_code_computes_the_projects_losses_stepped_by_gluons_adam() -> None:
    docs = documents_losses("mxnet", "float64")
    assert step_differences(docs, project_losses("mxnet", "float64", CONV_TAPS, gluon_adam=True))[1] <= 1e-12
    # the controls: the project's own Adam takes other steps (the first loss, before any step, is the same); and
    # relu taps are another computation
    own = project_losses("mxnet", "float64", CONV_TAPS)
    assert own[0] == pytest.approx(docs[0], rel=1e-12) and step_differences(docs, own)[1] > 1e-9
    assert step_differences(docs[:1], project_losses("mxnet", "float64", TORCH_TAPS)[:1])[1] > 1e-3


@pytest.mark.parametrize("framework", ["torch", "mxnet"])
def test_in_float32_as_timed_the_first_steps_loss_is_the_projects(framework: str) -> None:
    taps = TORCH_TAPS if framework == "torch" else CONV_TAPS
    docs = documents_losses(framework, "float32")
    ours = project_losses(framework, "float32", taps, gluon_adam=framework == "mxnet")
    assert step_differences(docs[:1], ours[:1])[1] <= 1e-6
