"""Where weights come from: seeded random, files the tests write (.pth and .params), the ImageNet caches."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from helpers import random_pixels

import common
from common.core import layers, reference, weights

UPTO = layers.BY_NAME["relu2_1"]  # keeps the files the tests write small


def small_state(seed: int = 7) -> dict[str, np.ndarray]:
    """VGG-19 conv weights up to relu2_1, plus a classifier entry any real file would also carry."""
    d = weights.random_vgg19(seed, UPTO)
    d["classifier.6.bias"] = np.zeros(1000, np.float32)
    return d


def write_pth(path: Path, state: dict[str, np.ndarray]) -> None:
    torch = pytest.importorskip("torch")
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, path)


def write_params(path: Path, arrays: dict[str, np.ndarray]) -> None:
    mx = pytest.importorskip("mxnet")
    mx.nd.save(str(path), {k: mx.nd.array(v, dtype=v.dtype) for k, v in arrays.items()})


def features_of(ops: common.Backend, w, upto: str = "relu2_1") -> np.ndarray:
    net = ops.vgg19(w, upto=upto)
    X = ops.asarray(reference.preprocess(random_pixels(12, 12)).astype("float32"))
    return ops.to_numpy(ops.feature_extractor(net, [upto])(X)[upto])


def test_random_weights_are_seeded_and_he_scaled() -> None:
    a, b, c = weights.random_vgg19(1), weights.random_vgg19(1), weights.random_vgg19(2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["features.0.weight"], c["features.0.weight"])
    w = a["features.28.weight"]
    assert w.dtype == np.float32 and w.std() == pytest.approx(np.sqrt(2 / (512 * 9)), rel=0.01)


def test_cutting_the_network_changes_none_of_the_remaining_numbers() -> None:
    full, cut = weights.random_vgg19(4), weights.random_vgg19(4, layers.BY_NAME["conv2_1"])
    assert sorted(cut) == sorted(layers.conv_param_names(layers.BY_NAME["conv2_1"]))
    assert all(np.array_equal(full[k], cut[k]) for k in cut)


def test_both_backends_load_the_same_random_numbers(both) -> None:
    a, b = (features_of(ops, "random") for ops in both)
    assert np.abs(a - b).max() <= 1e-4 * np.abs(a).max()


def test_a_pth_state_dict_loads_in_both_backends(tmp_path: Path, backend) -> None:
    path = tmp_path / "vgg.pth"
    write_pth(path, small_state())
    np.testing.assert_allclose(features_of(backend, str(path)), features_of(backend, small_state()), rtol=1e-6)


@pytest.mark.parametrize("naming", ["structural", "legacy", "legacy-prefixed"])
def test_a_gluon_params_file_loads_in_both_backends(tmp_path: Path, backend, naming: str) -> None:
    state = small_state()
    convs = [c.index for c in layers.CONV_LAYERS]
    if naming == "structural":  # what Block.save_parameters writes
        arrays = {k.replace("classifier.6", "output"): v for k, v in state.items()}
    else:  # what the old save_params wrote, with or without the block prefix
        prefix = "vgg0_" if naming == "legacy-prefixed" else ""
        arrays = {}
        for k, v in state.items():
            kind, index, p = k.split(".")
            name = f"conv{convs.index(int(index))}" if kind == "features" else "dense2"
            arrays[f"{prefix}{name}_{p}"] = v
    path = tmp_path / "vgg.params"
    write_params(path, arrays)
    np.testing.assert_allclose(features_of(backend, str(path)), features_of(backend, state), rtol=1e-6)


def test_canonical_names_map_gluon_classifier_layers_to_torchvision_ones() -> None:
    names = weights.canonical_names({"features.37.weight": 0, "features.39.bias": 0, "output.weight": 0, "0.bias": 0})
    assert sorted(names) == ["classifier.0.weight", "classifier.3.bias", "classifier.6.weight", "features.0.bias"]


def test_a_file_that_is_not_a_weight_file_is_refused(tmp_path: Path, backend) -> None:
    path = tmp_path / "notes.pth"
    path.write_text("hello")
    with pytest.raises(common.UserError, match="neither a torch state dict"):
        backend.vgg19(str(path))


def test_a_missing_weight_file_is_refused(tmp_path: Path, backend) -> None:
    with pytest.raises(common.UserError, match="does not exist"):
        backend.vgg19(str(tmp_path / "nope.pth"))


def test_wrong_shapes_are_refused_naming_the_parameter(tmp_path: Path, backend) -> None:
    state = small_state()
    state["features.2.weight"] = np.zeros((64, 64, 5, 5), np.float32)
    path = tmp_path / "bad.pth"
    write_pth(path, state)
    with pytest.raises(common.UserError, match=r"features\.2\.weight has shape \(64, 64, 5, 5\)"):
        backend.vgg19(str(path), upto="relu2_1")


def test_a_file_without_the_needed_layers_is_refused(tmp_path: Path, backend) -> None:
    path = tmp_path / "short.pth"
    write_pth(path, small_state())  # only up to relu2_1
    with pytest.raises(common.UserError, match=r"lacks features\.7\.weight"):
        backend.vgg19(str(path), upto="conv2_2")


def test_a_foreign_network_is_refused(tmp_path: Path, backend) -> None:
    path = tmp_path / "resnet.pth"
    write_pth(path, {"conv1.weight": np.zeros((64, 3, 7, 7), np.float32), "fc.bias": np.zeros(10, np.float32)})
    with pytest.raises(common.UserError, match="no VGG-19 features weights"):
        backend.vgg19(str(path))


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty weight caches and no network: every download fails at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxnet"))

    def no_network(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    return tmp_path


def test_imagenet_unavailable_is_one_line_naming_file_cache_and_alternatives(offline: Path, backend) -> None:
    with pytest.raises(common.WeightsUnavailable) as e:
        backend.vgg19("imagenet")
    message = str(e.value)
    assert "\n" not in message
    assert str(offline) in message and "--weights PATH" in message and "--weights random" in message
    assert ("vgg19-dcbb9e9d.pth" if backend.name == "torch" else "vgg19-ad2f660d.params") in message


def test_auto_falls_back_to_random_when_imagenet_is_unavailable(offline: Path, backend) -> None:
    w = backend.resolve_weights("auto", seed=5, upto=UPTO)
    assert w.source == "random" and "imagenet unavailable" in w.description
    assert np.array_equal(w.arrays["features.0.weight"], weights.random_vgg19(5, UPTO)["features.0.weight"])


def test_imagenet_is_read_from_torchvision_cache(offline: Path) -> None:
    from conftest import get_backend

    ops = get_backend("torch")
    cache = offline / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    state = small_state(seed=11)
    write_pth(cache / "vgg19-dcbb9e9d.pth", state)
    w = ops.resolve_weights("imagenet", seed=0, upto=UPTO)
    assert w.source == "imagenet" and str(cache) in w.description
    np.testing.assert_array_equal(w.arrays["features.5.bias"], state["features.5.bias"])


def test_imagenet_is_read_from_the_gluon_model_zoo_cache(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import get_backend

    ops = get_backend("mxnet")
    from mxnet.gluon.model_zoo import model_store
    from mxnet.gluon.utils import check_sha1

    cache = offline / "mxnet" / "models"
    cache.mkdir(parents=True)
    state = small_state(seed=12)
    convs = [c.index for c in layers.CONV_LAYERS]
    legacy = {
        f"conv{convs.index(int(k.split('.')[1]))}_{k.split('.')[2]}": v for k, v in state.items() if "features" in k
    }
    path = cache / "vgg19-ad2f660d.params"
    write_params(path, legacy)
    # The zoo checks the cached file's SHA-1; a file the test writes cannot have the real one, so the expected
    # hash becomes this file's (its name keeps the real short hash).
    import hashlib

    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    monkeypatch.setitem(model_store._model_sha1, "vgg19", "ad2f660d" + sha1[8:])
    monkeypatch.setattr(model_store, "check_sha1", lambda f, h: check_sha1(f, sha1))
    w = ops.resolve_weights("imagenet", seed=0, upto=UPTO)
    assert w.source == "imagenet" and str(path) in w.description
    np.testing.assert_array_equal(w.arrays["features.5.bias"], state["features.5.bias"])
