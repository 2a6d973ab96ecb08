"""Each difference between JAX and the other frameworks, demonstrated; docs/porting.md cites these tests by name.

As in tests/test_pitfalls.py, a test here shows the library behaviour itself (it fails if JAX changes); the project's
fix is tested elsewhere (named in the guide).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import get_backend


@pytest.fixture
def jax():
    get_backend("jax")
    import jax

    return jax


def test_jax_makes_float64_input_float32_unless_x64_is_enabled(jax) -> None:
    """In a fresh process (the backend enables x64 in this one): float64 numpy input becomes a float32 array."""
    code = "import numpy as np, jax.numpy as jnp; print(jnp.asarray(np.zeros(2)).dtype, jnp.zeros(2).dtype)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["float32", "float32"]


def test_reduce_window_with_a_jnp_initial_value_cannot_be_differentiated_under_jit(jax) -> None:
    """lax.reduce_window(x, jnp.array(-inf), lax.max, ...) inside jit: the initial value is traced, so JAX no longer
    sees a max-pool but a general reduction, which it cannot differentiate there; a numpy initial value can be."""
    jnp, lax = jax.numpy, jax.lax
    window = (1, 1, 2, 2)

    def pooled_sum(init):
        return jax.jit(lambda X: jnp.sum(lax.reduce_window(X, init(X), lax.max, window, window, "VALID")))

    X = jnp.arange(16.0).reshape(1, 1, 4, 4)
    with pytest.raises(Exception):  # noqa: B017 (an AssertionError inside JAX's linearize, in 0.4.30)
        jax.grad(pooled_sum(lambda X: jnp.array(-jnp.inf, X.dtype)))(X)
    grad = jax.grad(pooled_sum(lambda X: np.array(-np.inf, X.dtype)))(X)
    assert float(grad.sum()) == 4.0


def test_jnp_maximum_gives_half_the_gradient_at_a_tie(jax) -> None:
    """d/dx max(x, 0) at x = 0 is 1/2 in JAX; torch's and MXNet's ReLU give 0 there."""
    jnp = jax.numpy
    assert float(jax.grad(lambda x: jnp.maximum(x, 0.0))(0.0)) == 0.5
    assert float(jax.grad(lambda x: jax.nn.relu(x))(0.0)) == 0.0


def test_an_npz_archive_starts_with_the_bytes_of_a_torch_file(tmp_path: Path, jax) -> None:
    """np.savez and torch.save both write zip archives: their first bytes (PK\\x03\\x04) are the same."""
    torch = pytest.importorskip("torch")
    npz, pth = tmp_path / "a.npz", tmp_path / "a.pth"
    with open(npz, "wb") as f:
        np.savez(f, w=np.zeros(2))
    torch.save({"w": torch.zeros(2)}, pth)
    assert npz.read_bytes()[:4] == pth.read_bytes()[:4] == b"PK\x03\x04"
    assert all(zipfile.is_zipfile(p) for p in (npz, pth))


def test_jnp_abs_has_gradient_1_at_0(jax) -> None:
    """d/dx |x| at x = 0 is 1 in JAX; torch's and MXNet's abs give sign(0) = 0 there. The TV loss takes |x| of the
    differences of neighbouring pixels, which are often exactly 0 in an image made of 8-bit levels."""
    jnp = jax.numpy
    assert float(jax.grad(jnp.abs)(0.0)) == 1.0
    assert float(jax.grad(lambda x: x * jnp.sign(x))(0.0)) == 0.0


def test_torchs_float64_instance_norm_is_1e_14_from_exact(jax) -> None:
    """torch's F.instance_norm in float64, on a 16-channel 48x64 map after a ReLU (as in the generator): about 1e-14
    (relative to the largest output) from the exact normalization, where the same formula written with torch's mean
    and var, or with jnp's (XLA sums pairwise), is within 2e-15 (seeds 0-2: torch 0.9-2.7e-14). Each channel's
    statistics summed left to right, then x * a + b, give torch's numbers to 3e-16: that is its CPU kernel."""
    torch = pytest.importorskip("torch")
    jnp = jax.numpy
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 16, 48, 64)) * rng.uniform(0.2, 1, (1, 16, 1, 1)) + rng.uniform(-1, 1, (1, 16, 1, 1))
    x = np.maximum(x, 0)
    a = x.astype(np.longdouble)
    mean = a.mean(axis=(2, 3), keepdims=True)
    exact = (a - mean) / np.sqrt(((a - mean) ** 2).mean(axis=(2, 3), keepdims=True) + np.longdouble(1e-5))

    def error(y, to=exact) -> float:
        return float(np.abs(np.asarray(y, np.longdouble) - to).max() / np.abs(to).max())

    X = torch.from_numpy(x)
    by_torch = torch.nn.functional.instance_norm(X).numpy()
    manual = (X - X.mean((2, 3), keepdim=True)) / torch.sqrt(X.var((2, 3), unbiased=False, keepdim=True) + 1e-5)
    y = jnp.asarray(x)
    by_jnp = (y - y.mean((2, 3), keepdims=True)) / jnp.sqrt(y.var((2, 3), keepdims=True) + 1e-5)
    assert error(by_torch) > 5e-15
    assert error(manual.numpy()) < 2e-15 and error(by_jnp) < 2e-15
    rows = x.reshape(16, -1)
    left_mean = np.add.accumulate(rows, axis=1)[:, -1:] / rows.shape[1]
    scale = 1 / np.sqrt(np.add.accumulate((rows - left_mean) ** 2, axis=1)[:, -1:] / rows.shape[1] + 1e-5)
    assert error((rows * scale + -(left_mean * scale)).reshape(x.shape), by_torch.astype(np.longdouble)) < 3e-16


def test_xla_on_a_cpu_computes_bfloat16_convolutions_in_float32(jax) -> None:
    """jaxlib 0.4.30 on a CPU, a jitted loss and gradient through two convolutions with a ReLU between, cast to
    bfloat16: the loss is float32's (within float32 rounding, 1e-5; XLA widens bf16 to f32 and removes the roundings
    as excess precision; on a Zen 4 bit for bit, while the gradient was rounded in places, 2e-3 from float32's); with
    --xla_allow_excess_precision=false the loss is rounded (1e-3 apart). So bf16 there is not bf16."""
    code = """if True:
        import numpy as np, jax, jax.numpy as jnp
        from jax import lax
        x = np.random.default_rng(0).standard_normal((1, 8, 24, 24)).astype(np.float32)
        w = np.random.default_rng(1).standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.3
        def loss(x, w, dt):
            y, v = x.astype(dt), w.astype(dt)
            for _ in range(2):
                y = jnp.maximum(lax.conv_general_dilated(y, v, (1, 1), ((1, 1), (1, 1))), 0)
            return jnp.sum(jnp.square(y.astype(jnp.float32)))
        (a, ga), (b, gb) = (jax.jit(jax.value_and_grad(lambda x, w: loss(x, w, dt)))(x, w)
                            for dt in (jnp.float32, jnp.bfloat16))
        print(abs(float(a) - float(b)) / abs(float(a)), float(np.abs(ga - gb).max() / np.abs(ga).max()))
    """

    def differences(flags: str) -> list[float]:
        env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        return [float(v) for v in out.stdout.split()]

    assert differences("")[0] < 1e-5
    assert differences("--xla_allow_excess_precision=false")[0] > 1e-4
