"""Each loss, each backend: against the float64 numpy reference and against the other backend."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import rel_err

import common
from common.core import reference

# A loss is a few roundings and one reduction in its dtype: its error is a few units of roundoff u (2^-24 in float32,
# 2^-53 in float64), relative to the largest value. Measured over 20 seeds on these shapes, both backends, both
# dtypes (AMD EPYC Zen 4): gram at most 6.1 u, content 3.8 u, style 3.5 u, TV 2.6 u; the two backends apart by at
# most 4.8 u. Tolerance: 16 u, 2.6x the worst measured; a Gram normalization off by 1.0001 (1700 u in float32) or
# by 1 + 1e-12 in float64 (4500 u) fails (tests/defects/losses.toml).
UNITS = 16
TOL = {"float32": UNITS * 2.0**-24, "float64": UNITS * 2.0**-53}


def _pair(shape: tuple[int, ...], dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gram_matches_the_reference(backend: common.Backend, dtype: str) -> None:
    Y, _ = _pair((1, 16, 9, 11), dtype)
    G = backend.to_numpy(backend.gram(backend.asarray(Y)))
    assert G.dtype == np.dtype(dtype)
    assert rel_err(G, reference.gram(Y)) <= TOL[dtype]


def test_gram_gradient_is_the_sum_of_both_inputs_terms(backend: common.Backend) -> None:
    """d/dY sum(W * gram(Y)) = (W + W^T) Y / (c h w) for any W, not only the symmetric ones the losses make (the
    backends compute it as one product; autograd's own gradient would add one product per input); torch also for
    channels_last features, which it keeps as the transpose of an (h w, c) matrix."""
    Y, _ = _pair((1, 6, 5, 7), "float64")
    W = np.random.default_rng(1).standard_normal((6, 6))
    M = Y.reshape(6, -1)
    expected = ((W + W.T) @ M / M.size).reshape(Y.shape)
    inputs = [backend.asarray(Y)]
    if backend.name == "torch":
        import torch

        inputs.append(inputs[0].contiguous(memory_format=torch.channels_last))
    for X in inputs:
        _, grad = backend.gradient(lambda X: [(backend.gram(X) * backend.asarray(W)).sum()], X)
        assert rel_err(backend.to_numpy(grad), expected) <= 1e-14


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_content_loss_matches_the_reference(backend: common.Backend, dtype: str) -> None:
    a, b = _pair((1, 8, 7, 5), dtype)
    got = backend.to_numpy(backend.content_loss(backend.asarray(a), backend.asarray(b)))
    assert rel_err(got, reference.content_loss(a, b)) <= TOL[dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_style_loss_matches_the_reference(backend: common.Backend, dtype: str) -> None:
    a, b = _pair((1, 8, 7, 5), dtype)
    gram_b = reference.gram(b).astype(dtype)
    got = backend.to_numpy(backend.style_loss(backend.asarray(a), backend.asarray(gram_b)))
    assert rel_err(got, reference.style_loss(a, gram_b)) <= TOL[dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tv_loss_matches_the_reference(backend: common.Backend, dtype: str) -> None:
    X, _ = _pair((1, 3, 12, 17), dtype)
    got = backend.to_numpy(backend.tv_loss(backend.asarray(X)))
    assert rel_err(got, reference.tv_loss(X)) <= TOL[dtype]


def test_tv_of_a_constant_image_is_exactly_zero(backend: common.Backend) -> None:
    assert float(backend.to_numpy(backend.tv_loss(backend.asarray(np.full((1, 3, 4, 4), 0.7))))) == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_total_loss_matches_the_reference(backend: common.Backend, dtype: str) -> None:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((1, 3, 10, 12)).astype(dtype)
    c_hat, c = [rng.standard_normal((1, 4, 5, 6)).astype(dtype) for _ in range(2)]
    s_hat = [rng.standard_normal((1, 4, 5, 6)).astype(dtype), rng.standard_normal((1, 8, 2, 3)).astype(dtype)]
    s_gram = [reference.gram(rng.standard_normal(s.shape)).astype(dtype) for s in s_hat]
    w = common.LossWeights(1.0, 1e4, 10.0)
    t = backend.asarray
    contents_l, styles_l, tv_l, total = common.compute_loss(
        backend, t(X), [t(c_hat)], [t(s) for s in s_hat], [t(c)], [t(g) for g in s_gram], w
    )
    ref = reference.total_loss(X, [c_hat], s_hat, [c], s_gram, (w.content, w.style, w.tv))
    got_total = float(backend.to_numpy(total))
    assert rel_err(got_total, ref[3]) <= TOL[dtype]
    assert rel_err(float(backend.to_numpy(tv_l)), ref[2]) <= TOL[dtype]
    assert len(contents_l) == 1 and len(styles_l) == 2


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_loss_agrees_across_backends(both, dtype: str) -> None:
    torch_ops, mxnet_ops = both
    Y, Z = _pair((1, 32, 6, 9), dtype, seed=5)
    G = reference.gram(Z).astype(dtype)
    for fn, args in (("gram", (Y,)), ("content_loss", (Y, Z)), ("style_loss", (Y, G)), ("tv_loss", (Y,))):
        a = torch_ops.to_numpy(getattr(torch_ops, fn)(*map(torch_ops.asarray, args)))
        b = mxnet_ops.to_numpy(getattr(mxnet_ops, fn)(*map(mxnet_ops.asarray, args)))
        assert rel_err(a, b) <= 2 * TOL[dtype], fn  # each within TOL of the reference
