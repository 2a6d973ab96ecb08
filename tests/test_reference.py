"""The numpy reference itself, checked against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from common.core import layers, reference, weights


def test_gram_of_all_ones_is_one_over_c() -> None:
    # Every entry is sum over h*w of 1*1 = h*w, divided by c*h*w.
    G = reference.gram(np.ones((1, 4, 3, 5)))
    assert G.shape == (4, 4)
    np.testing.assert_allclose(G, np.full((4, 4), 1 / 4))


def test_gram_is_symmetric_and_matches_its_definition() -> None:
    Y = np.random.default_rng(0).standard_normal((1, 3, 2, 2))
    G = reference.gram(Y)
    M = Y.reshape(3, 4)
    assert G[0, 1] == pytest.approx(float(M[0] @ M[1]) / 12)
    np.testing.assert_allclose(G, G.T)


def test_tv_of_a_constant_image_is_zero_and_of_a_ramp_is_known() -> None:
    assert reference.tv_loss(np.full((1, 3, 5, 7), 0.3)) == 0
    ramp = np.broadcast_to(np.arange(7.0), (1, 3, 5, 7))  # steps of 1 along columns, none along rows
    assert reference.tv_loss(ramp) == pytest.approx(0.5 * (0 + 1))


def test_content_and_style_loss_are_mean_squared_errors() -> None:
    a, b = np.zeros((1, 2, 2, 2)), np.full((1, 2, 2, 2), 3.0)
    assert reference.content_loss(a, b) == 9
    assert reference.style_loss(b, np.zeros((2, 2))) == pytest.approx((9 * 4 / 8) ** 2)


def test_preprocess_postprocess_round_trip() -> None:
    px = np.random.default_rng(0).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    X = reference.preprocess(px)
    assert X.shape == (1, 3, 5, 6)
    np.testing.assert_allclose(X[0, :, 0, 0], (px[0, 0] / 255 - reference.IMAGENET_MEAN) / reference.IMAGENET_STD)
    np.testing.assert_allclose(reference.postprocess(X) * 255, px, atol=1e-9)


def test_conv3x3_matches_a_direct_loop() -> None:
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((1, 2, 4, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    out = reference._conv3x3(X, W, b)
    P = np.pad(X[0], ((0, 0), (1, 1), (1, 1)))
    for o in range(3):
        for i in range(4):
            for j in range(5):
                assert out[0, o, i, j] == pytest.approx(float((W[o] * P[:, i : i + 3, j : j + 3]).sum() + b[o]))


def test_pooling_takes_max_or_mean_of_2x2_blocks_and_drops_odd_edges() -> None:
    X = np.arange(1 * 1 * 5 * 4, dtype=float).reshape(1, 1, 5, 4)
    assert reference._pool2x2(X, "max").tolist() == [[[[5, 7], [13, 15]]]]
    assert reference._pool2x2(X, "avg").tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]


def test_vgg_features_shapes_follow_the_pooling() -> None:
    w = weights.random_vgg19(0, layers.BY_NAME["pool2"])
    out = reference.vgg_features(np.zeros((1, 3, 16, 20)), w, ["conv1_1", "pool1", "pool2"])
    assert out["conv1_1"].shape == (1, 64, 16, 20)
    assert out["pool1"].shape == (1, 64, 8, 10) and out["pool2"].shape == (1, 128, 4, 5)


def test_step_decay_multiplies_after_every_n_steps() -> None:
    assert reference.step_decay(1.0, 2, 0.5, 6) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_torch_and_mxnet_adam_formulas_differ_where_epsilon_goes() -> None:
    p, g, z = np.array([1.0]), np.array([1e-6]), np.zeros(1)
    torch_p, _, _ = reference.adam_step(p, g, z, z, 1, lr=0.1)
    mxnet_p, _, _ = reference.mxnet_adam_step(p, g, z, z, 1, lr=0.1)
    # Step 1 of Adam moves every parameter by about lr; MXNet's epsilon is 1/sqrt(1-0.999) = 31.6x larger
    # in effect, which matters when gradients are small.
    assert 1 - torch_p[0] == pytest.approx(0.1 * 1e-6 / (1e-6 + 1e-8))
    assert 1 - mxnet_p[0] == pytest.approx(0.1 * 1e-6 / (1e-6 + 1e-8 / np.sqrt(0.001)))
    assert abs(torch_p[0] - mxnet_p[0]) > 1e-3
