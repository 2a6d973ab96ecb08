"""VGG-19 features: every named layer, both backends, against the reference and each other."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import get_backend
from helpers import conv_layout_errors, random_pixels, rel_err

import common
from common.core import layers, reference

SEED = 3
H, W = 32, 32  # pool5 is then 1x1


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return common.random_vgg19(SEED)


def _features(ops: common.Backend, X: np.ndarray, names, pooling: str = "max", dtype: str = "float32"):
    net = ops.vgg19("random", seed=SEED, pooling=pooling, dtype=dtype, upto=layers.deepest(names).name)
    out = ops.feature_extractor(net, names)(ops.asarray(X.astype(dtype)))
    return {k: ops.to_numpy(v) for k, v in out.items()}


@pytest.mark.parametrize("pooling", ["max", "avg"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_named_layer_matches_the_reference(backend, weights, pooling: str, dtype: str) -> None:
    X = reference.preprocess(random_pixels(H, W, seed=1))
    got = _features(backend, X, layers.NAMES, pooling, dtype)
    ref = reference.vgg_features(X, weights, layers.NAMES, pooling)
    tol = 1e-4 if dtype == "float32" else 1e-10
    for name in layers.NAMES:
        assert got[name].dtype == np.dtype(dtype)
        assert rel_err(got[name], ref[name]) <= tol, name


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_every_named_layer_agrees_across_backends(both, pooling: str) -> None:
    torch_ops, mxnet_ops = both
    X = reference.preprocess(random_pixels(H, W, seed=2))
    a = _features(torch_ops, X, layers.NAMES, pooling)
    b = _features(mxnet_ops, X, layers.NAMES, pooling)
    for name in layers.NAMES:
        assert rel_err(a[name], b[name]) <= 1e-4, name


def test_a_conv_layer_returns_the_conv_output_not_the_relu_after_it(backend, weights) -> None:
    X = reference.preprocess(random_pixels(16, 16))
    got = _features(backend, X, ["conv1_1", "relu1_1"], dtype="float64")
    assert (got["conv1_1"] < 0).any(), "a conv output has negative values; only a ReLU'd one has none"
    np.testing.assert_allclose(got["conv1_1"], reference.vgg_features(X, weights, ["conv1_1"])["conv1_1"])
    np.testing.assert_array_equal(got["relu1_1"], np.maximum(got["conv1_1"], 0))


def test_the_network_is_cut_after_the_deepest_requested_layer(backend) -> None:
    assert len(backend.vgg19("random", upto="conv4_4")) == 26
    assert len(backend.vgg19("random", upto=28)) == 29
    assert len(backend.vgg19("random")) == 37


def test_requested_layers_come_back_by_name_in_any_order(backend) -> None:
    X = reference.preprocess(random_pixels(16, 16))
    net = backend.vgg19("random", upto="pool2")
    out = backend.feature_extractor(net, ["pool2", 0, "relu1_2"])(backend.asarray(X.astype("float32")))
    assert list(out) == ["pool2", "conv1_1", "relu1_2"]
    assert tuple(out["pool2"].shape) == (1, 128, 4, 4)


def test_a_layer_deeper_than_the_net_is_refused(backend) -> None:
    net = backend.vgg19("random", upto="pool1")
    with pytest.raises(ValueError, match="deeper than the net"):
        backend.feature_extractor(net, ["conv2_1"])


@pytest.mark.parametrize("flags", ["fpu avx avx2 fma", "fpu avx2 avx512f"])
def test_torch_float32_layout_follows_the_cpu_and_gives_the_same_features(
    weights, tmp_path, monkeypatch, flags: str
) -> None:
    import torch
    from conftest import play_cpu

    torch_backend = get_backend("torch")
    play_cpu(tmp_path, monkeypatch, flags)
    X = reference.preprocess(random_pixels(H, W, seed=4))
    net = torch_backend.vgg19("random", seed=SEED, upto="conv5_1")
    extract = torch_backend.feature_extractor(net, layers.NAMES[: layers.NAMES.index("conv5_1") + 1])
    channels_last = "avx512f" not in flags
    assert extract.module.channels_last is channels_last
    assert extract.module.net[0].weight.is_contiguous(memory_format=torch.channels_last) is channels_last
    got = {k: torch_backend.to_numpy(v) for k, v in extract(torch_backend.asarray(X.astype("float32"))).items()}
    ref = reference.vgg_features(X, weights, list(got), "max")
    for name, value in got.items():
        assert rel_err(value, ref[name]) <= 1e-4, name
    float64 = torch_backend.vgg19("random", seed=SEED, dtype="float64", upto="conv5_1")
    assert torch_backend.feature_extractor(float64, ["conv1_1"]).module.channels_last is False  # oneDNN: float32


def test_torch_channels_last_float32_is_as_accurate_where_the_backend_chooses_it() -> None:
    """The rule's premise on this machine: where cpu.channels_last_fp32() holds, channels_last convolutions are as
    accurate as NCHW (where it does not, pitfall 16 in the porting guide shows them 3x less accurate)."""
    from conftest import REAL_CPUINFO

    get_backend("torch")
    if not common.core.cpu.channels_last_fp32(REAL_CPUINFO):
        pytest.skip(f"the torch backend keeps NCHW for float32 on this CPU ({common.core.cpu.model(REAL_CPUINFO)})")
    errors = conv_layout_errors()
    assert errors["channels_last"] <= 1.5 * errors["nchw"], errors
