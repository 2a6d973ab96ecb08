"""What only the JAX backend has to get right: dtypes with x64 enabled, ReLU's gradient at 0, its .npz weight files
told apart from torch's zip archives, and one compilation per program and shape (the rest of the contract is tested
for every backend by the parametrized tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import get_backend

import common
from common.core import weights


@pytest.fixture
def ops() -> common.Backend:
    return get_backend("jax")


def test_float32_stays_float32_and_float64_stays_float64_with_x64_enabled(ops, image_files) -> None:
    for dtype in ("float32", "float64"):
        X = ops.to_tensor(np.zeros((8, 8, 3), np.uint8), dtype)
        net = ops.vgg19("random", dtype=dtype, upto="conv1_2")
        Y = ops.feature_extractor(net, ["conv1_2"])(X)["conv1_2"]
        trainer = ops.trainer(ops.synthesized_image(X), lambda X: [ops.tv_loss(X)] * 4, 0.1, 10, 0.5)
        trainer.step()
        state = trainer.state()
        assert {X.dtype, Y.dtype, ops.gram(Y).dtype, state["param.0"].dtype, state["optimizer.m.0"].dtype} == {
            np.dtype(dtype)
        }


def test_relu_has_gradient_0_at_0(ops) -> None:
    import jax

    from backends.jax import vgg

    assert float(jax.grad(lambda x: vgg.relu(x).sum())(np.zeros(3))[0]) == 0.0


def test_npz_files_are_the_jax_backends_and_torch_files_stay_torchs(ops, tmp_path: Path) -> None:
    arrays = weights.random_vgg19(0, common.core.layers.resolve("conv1_1"))
    ops.write_weights(str(tmp_path / "w.tmp"), arrays)  # no .npz added to a name without it
    assert weights.file_format(tmp_path / "w.tmp") == "jax"
    read = ops.read_weights(str(tmp_path / "w.tmp"))
    assert read.keys() == arrays.keys() and all(np.array_equal(read[k], arrays[k]) for k in arrays)
    torch = get_backend("torch")
    torch.write_weights(str(tmp_path / "w.pth"), arrays)
    assert weights.file_format(tmp_path / "w.pth") == "torch"
    net = ops.vgg19(str(tmp_path / "w.pth"), upto="conv1_1")  # a .pth read for the JAX backend by torch's reader
    assert np.array_equal(np.asarray(net.params[0][0]), arrays["features.0.weight"])


def test_a_program_is_compiled_once_per_shape_however_many_trainers_run_it(ops) -> None:
    from backends.jax import trainer as jax_trainer

    def run(size: int) -> None:
        X = ops.to_tensor(np.full((size, size, 3), 7, np.uint8), "float32")
        t = ops.trainer(ops.synthesized_image(X), lambda X: [ops.tv_loss(X) * 0.5] * 4, 0.1, 10, 0.5)
        t.step()

    run(8)
    before = jax_trainer.train_step._cache_size()
    run(8)
    assert jax_trainer.train_step._cache_size() == before
    run(12)
    assert jax_trainer.train_step._cache_size() == before + 1


def test_the_tv_gradient_is_zero_where_neighbours_are_equal(ops) -> None:
    """At a constant image every difference is 0, and so is the TV gradient in torch and MXNet (|x|' = sign(x));
    jnp.abs's gradient at 0 is 1, which leaves the border pixels +-1/n."""
    X = ops.asarray(np.full((1, 3, 4, 5), 0.25))
    assert not np.any(ops.to_numpy(ops.gradient(lambda X: [ops.tv_loss(X)] * 4, X)[1]))


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_is_refused_on_a_cpu_where_xla_would_compute_float32(ops, precision: str) -> None:
    net = ops.vgg19("random", upto="conv1_1")
    with pytest.raises(common.UserError, match=f"--precision {precision} with jax on a CPU"):
        ops.feature_extractor(net, ["conv1_1"], precision)
    assert "conv1_1" in ops.feature_extractor(net, ["conv1_1"], "fp32")(ops.to_tensor(np.zeros((8, 8, 3), np.uint8)))


def test_float64_instance_norm_has_torchs_numbers_and_the_exact_gradient(ops) -> None:
    """In float64 the JAX generator's instance norm gives torch's CPU kernel's values (to 3e-16 of the largest, where
    the exact formula is 1e-14 away) and the exact formula's gradient; in float32, the exact formula rounded once."""
    import jax
    import jax.numpy as jnp
    import torch

    from backends.jax import generator

    rng = np.random.default_rng(1)
    shift = rng.uniform(-1, 1, (1, 16, 1, 1))
    x = np.maximum(rng.standard_normal((2, 16, 48, 64)) * rng.uniform(0.2, 1, (1, 16, 1, 1)) + shift, 0)
    by_torch = torch.nn.functional.instance_norm(torch.from_numpy(x)).numpy()
    y = jnp.asarray(x)
    exact = (y - y.mean((2, 3), keepdims=True)) / jnp.sqrt(y.var((2, 3), keepdims=True) + generator.EPS)
    largest = np.abs(by_torch).max()
    assert np.abs(np.asarray(exact) - by_torch).max() > 5e-15 * largest  # what there is to match
    got = np.asarray(jax.jit(generator.instance_norm)(y))
    assert np.abs(got - by_torch).max() < 3e-16 * largest
    w = jnp.asarray(rng.standard_normal(x.shape))
    grad = jax.grad(lambda a: (generator.instance_norm(a) * w).sum())(y)
    grad_exact = jax.grad(
        lambda a: (
            ((a - a.mean((2, 3), keepdims=True)) / jnp.sqrt(a.var((2, 3), keepdims=True) + generator.EPS)) * w
        ).sum()
    )(y)
    assert np.abs(np.asarray(grad) - np.asarray(grad_exact)).max() < 1e-15 * np.abs(np.asarray(grad_exact)).max()
    y32 = y.astype(jnp.float32)
    single, wide = generator.instance_norm(y32), y32.astype(jnp.float64)
    rounded = (wide - wide.mean((2, 3), keepdims=True)) / jnp.sqrt(wide.var((2, 3), keepdims=True) + generator.EPS)
    assert single.dtype == jnp.float32 and np.array_equal(np.asarray(single), np.asarray(rounded).astype(np.float32))
