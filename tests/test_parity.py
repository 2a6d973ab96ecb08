"""The two backends are the same program: gradients and whole optimization trajectories, float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_pixels, rel_err, smooth_image

import common
from common import images, reference
from common.job import noise_image

SIZE = (40, 56)


def setup(ops: common.Backend, dtype: str, pooling: str = "max"):
    s = common.Settings()
    names = tuple(dict.fromkeys(s.content_layers + s.style_layers))
    net = ops.vgg19("random", seed=0, dtype=dtype, upto="conv5_1", pooling=pooling)
    content = ops.to_tensor(images.pixels(smooth_image(*SIZE, seed=1)), dtype)
    style = ops.to_tensor(random_pixels(*SIZE, seed=2), dtype)
    obj = common.Objective(
        ops, ops.feature_extractor(net, names), s.content_layers, s.style_layers, content, style, common.LossWeights()
    )
    return obj, content


def trajectory(ops: common.Backend, dtype: str, steps: int, lr: float, init: str):
    obj, content = setup(ops, dtype)
    X0 = content if init == "content" else ops.to_tensor(noise_image(0, SIZE), dtype)
    trainer = ops.trainer(ops.synthesized_image(X0), obj, lr, 50, 0.8)
    history = np.array([trainer.step() for _ in range(steps)])
    return history, np.rint(reference.postprocess(ops.to_numpy(trainer.image())) * 255)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.mark.parametrize("pooling", ["max", "avg"])
@pytest.mark.parametrize("dtype,tol", [("float32", 1e-4), ("float64", 1e-10)])
def test_the_gradient_of_the_total_loss_agrees(both, dtype: str, tol: float, pooling: str) -> None:
    results = []
    for ops in both:
        obj, _ = setup(ops, dtype, pooling)
        losses, grad = ops.gradient(obj, ops.to_tensor(random_pixels(*SIZE, seed=3), dtype))
        results.append((np.array(losses), ops.to_numpy(grad)))
    (la, ga), (lb, gb) = results
    assert rel_err(la, lb) <= tol
    assert rel_err(ga, gb) <= tol


@pytest.mark.parametrize("init", ["content", "noise"])
def test_float32_trajectories_agree_for_10_adam_steps(both, init: str) -> None:
    (ha, ia), (hb, ib) = (trajectory(ops, "float32", 10, 0.05, init) for ops in both)
    for step in range(10):
        for k in range(4):
            assert abs(ha[step, k] - hb[step, k]) <= 1e-3 * abs(ha[step, k]) or ha[step, k] == hb[step, k] == 0
    assert psnr(ia, ib) >= 40


@pytest.mark.parametrize("init", ["content", "noise"])
def test_float64_trajectories_agree_through_the_learning_rate_decay(both, init: str) -> None:
    (ha, ia), (hb, ib) = (trajectory(ops, "float64", 60, 0.3, init) for ops in both)
    np.testing.assert_allclose(ha, hb, rtol=1e-9, atol=0)
    assert psnr(ia, ib) >= 80


def test_the_content_loss_at_the_content_image_is_exactly_zero(backend) -> None:
    """MXNet with oneDNN computes different conv outputs in training and inference mode unless handled."""
    obj, content = setup(backend, "float32")
    trainer = backend.trainer(backend.synthesized_image(content), obj, 0.05, 50, 0.8)
    assert trainer.step()[0] == 0.0
