"""Training: the image is the only parameter, Adam is torch's formula in both backends, the schedule is the same."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import get_backend, skip_jax_reduced_precision, skip_mxnet_bf16_without_units
from helpers import random_pixels

import common
from common.core import reference


def quadratic(ops: common.Backend, target: np.ndarray):
    """A loss_fn with a known gradient: total = sum((X - target)^2) * scale, reported in all four slots."""
    T = ops.asarray(target)

    def loss_fn(X):
        d = X - T
        total = (d * d).sum() * 0.5
        return total * 0, total * 0, total * 0, total

    return loss_fn


def test_adam_matches_torchs_formula_in_float64(backend) -> None:
    rng = np.random.default_rng(0)
    X0, T = rng.standard_normal((1, 3, 4, 5)), rng.standard_normal((1, 3, 4, 5))
    trainer = backend.trainer(backend.synthesized_image(backend.asarray(X0)), quadratic(backend, T), 0.05, 3, 0.5)
    p, m, v = X0.copy(), np.zeros_like(X0), np.zeros_like(X0)
    rates = reference.step_decay(0.05, 3, 0.5, 8)
    for t in range(1, 9):
        trainer.step()
        p, m, v = reference.adam_step(p, p - T, m, v, t, rates[t - 1])
        np.testing.assert_allclose(backend.to_numpy(trainer.image()), p, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("every,factor", [(50, 0.8), (3, 0.1), (1, 0.5)])
def test_the_learning_rate_schedule_is_the_same_in_both_backends(backend, every: int, factor: float) -> None:
    X0 = np.zeros((1, 3, 2, 2))
    trainer = backend.trainer(
        backend.synthesized_image(backend.asarray(X0)), quadratic(backend, X0 + 1), 0.3, every, factor
    )
    seen = []
    for _ in range(7 if every < 50 else 120):
        seen.append(trainer.learning_rate)
        trainer.step()
    assert seen == reference.step_decay(0.3, every, factor, len(seen))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_image_is_the_only_parameter_and_vgg_gets_no_gradient(backend, precision) -> None:
    """In bf16 too: MXNet's AMP gives its converted block parameters of its own, which computed weight gradients
    (a third of the convolutions' backward work) until they were frozen like the network's."""
    if precision == "bf16":
        skip_mxnet_bf16_without_units(backend.name)
        skip_jax_reduced_precision(backend.name)
    s = common.Settings()
    net = backend.vgg19("random", upto="conv5_1")
    params_before = _vgg_params(backend, net)
    ex = backend.feature_extractor(net, s.content_layers + s.style_layers, precision)
    X = backend.to_tensor(random_pixels(24, 24))
    obj = common.Objective(backend, ex, s.content_layers, s.style_layers, X, X, common.LossWeights())
    model = backend.synthesized_image(backend.to_tensor(random_pixels(24, 24, seed=1)))
    trainer = backend.trainer(model, obj, 0.1, 50, 0.8)
    trainer.step()
    trainer.step()
    if backend.name == "torch":
        assert [p.shape for p in model.parameters()] == [(1, 3, 24, 24)]
        assert all(not p.requires_grad and p.grad is None for p in net.parameters())
    elif backend.name == "jax":  # the step differentiates the model's parameters, nothing else
        assert [p.shape for p in jax_leaves(model.params)] == [(1, 3, 24, 24)]
        assert jax_leaves(trainer.opt_state["m"])[0].shape == (1, 3, 24, 24) and len(jax_leaves(trainer.opt_state)) == 2
    else:
        assert [p.shape for p in model.collect_params().values()] == [(1, 3, 24, 24)]
        blocks = [net, *ex.converted]  # bf16: AMP's block, built on the first call
        assert len(blocks) == (2 if precision == "bf16" else 1)
        assert all(p.grad_req == "null" for b in blocks for p in b.collect_params().values())
    after = _vgg_params(backend, net)
    assert all(np.array_equal(params_before[k], after[k]) for k in params_before)


def jax_leaves(tree) -> list:
    """The arrays of a JAX pytree."""
    import jax

    return jax.tree_util.tree_leaves(tree)


def _vgg_params(backend, net) -> dict[str, np.ndarray]:
    if backend.name == "torch":
        return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    if backend.name == "jax":
        return {str(i): np.array(a) for i, a in enumerate(jax_leaves(net.params))}
    return {k: v.data().asnumpy() for k, v in net.collect_params().items()}


def test_a_non_finite_loss_updates_nothing_and_keeps_the_last_finite_image(backend) -> None:
    """The third step's total loss is NaN. Made by the image itself (a backend may trace the loss function once, as
    JAX's does): Adam moves each pixel by 0.1 a step from 0, and (S X)^64 overflows between X = 0.1 and 0.2, where
    its product with 0 (0 before, and its gradient 0) becomes NaN."""
    X0 = np.zeros((1, 3, 2, 2))
    base = quadratic(backend, X0 + 1)

    def loss_fn(X):
        losses = base(X)
        h = X * 3.98e5
        for _ in range(6):
            h = h * h
        return (*losses[:3], losses[3] + h.sum() * 0)

    trainer = backend.trainer(backend.synthesized_image(backend.asarray(X0)), loss_fn, 0.1, 50, 0.8)
    assert trainer.last_finite_image() is None
    trainer.step()
    after_one = backend.to_numpy(trainer.image())
    trainer.step()
    after_two = backend.to_numpy(trainer.image())
    values = trainer.step()
    assert np.isnan(values[3])
    np.testing.assert_array_equal(backend.to_numpy(trainer.image()), after_two)  # not updated
    np.testing.assert_array_equal(backend.to_numpy(trainer.last_finite_image()), after_one)


def test_gradient_matches_the_analytic_one(backend) -> None:
    rng = np.random.default_rng(1)
    X, T = rng.standard_normal((1, 3, 3, 3)), rng.standard_normal((1, 3, 3, 3))
    losses, grad = backend.gradient(quadratic(backend, T), backend.asarray(X))
    np.testing.assert_allclose(backend.to_numpy(grad), X - T, rtol=1e-12)
    assert losses[3] == pytest.approx(0.5 * ((X - T) ** 2).sum())


def test_a_run_without_content_layers_or_without_style_layers_reports_zero_for_them(backend) -> None:
    X = backend.to_tensor(random_pixels(24, 24))
    for content_layers, style_layers in (((), ("conv1_1",)), (("conv1_1",), ())):
        objective = common.core.objective.make_objective(backend, X, X, content_layers, style_layers)
        trainer = backend.trainer(
            backend.synthesized_image(backend.to_tensor(random_pixels(24, 24, seed=1))), objective, 0.1, 50, 0.8
        )
        losses = trainer.step()
        assert (losses[0] == 0) == (not content_layers) and (losses[1] == 0) == (not style_layers)


def test_torch_results_are_identical_in_fresh_processes() -> None:
    """The torch backend sets MKL_CBWR=AUTO,STRICT before torch loads (docs/porting.md explains why)."""
    import os

    from test_pitfalls import probe

    get_backend("torch")
    env = {k: v for k, v in os.environ.items() if k != "MKL_CBWR"}
    assert len({probe(env) for _ in range(4)}) == 1
