"""Where weights come from: seeded random, files the tests write (.pth and .params), the ImageNet caches; and each
weight file read by the backend whose format it is, as that backend declares it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKEND_NAMES, get_backend
from helpers import random_pixels

import common
from common.core import layers, reference, registry, weights
from common.core.interface import read_weights_file

ROOT = Path(__file__).resolve().parents[1]

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
    names = get_backend("mxnet").canonical_names({"features.37.weight": 0, "features.39.bias": 0, "output.weight": 0})
    assert sorted(names) == ["classifier.0.weight", "classifier.3.bias", "classifier.6.weight"]
    assert sorted(get_backend("mxnet").canonical_names({"vgg0_conv15_bias": 0, "dense1_weight": 0})) == [
        "classifier.3.weight",
        "features.34.bias",
    ]


def test_canonical_names_read_torch_wrappers_as_torchvision_names() -> None:
    names = get_backend("torch").canonical_names({"module.features.2.weight": 0, "0.bias": 0, "classifier.6.bias": 0})
    assert sorted(names) == ["classifier.6.bias", "features.0.bias", "features.2.weight"]


# A state dict as each library's own code names it, other than canonically: torch's DataParallel wraps every name in
# `module.`; the old Gluon save_params numbered the layers ('vgg0_conv0_weight').
OTHER_NAMES = {
    "torch": lambda key: "module." + key,
    "mxnet": lambda key: (
        f"vgg0_conv{[c.index for c in layers.CONV_LAYERS].index(int(key.split('.')[1]))}_" + key.split(".")[2]
    ),
}


def test_a_dict_in_the_librarys_own_names_loads_as_the_canonical_one(backend) -> None:
    if backend.name not in OTHER_NAMES:
        pytest.skip(f"no other naming of {backend.name}'s is known to this test")
    state = weights.random_vgg19(7, UPTO)
    own = {OTHER_NAMES[backend.name](key): value for key, value in state.items()}
    assert not set(own) & set(state)
    np.testing.assert_array_equal(features_of(backend, own), features_of(backend, state))


def test_each_backends_own_names_read_back_as_the_canonical_ones(backend) -> None:
    state = small_state()
    state["classifier.0.weight"] = np.ones((2, 2), np.float32)
    own = backend.own_names(state)
    assert sorted(backend.canonical_names(own)) == sorted(state)
    assert all(backend.canonical_names(own)[k] is state[k] for k in state)


def test_a_file_each_backend_writes_is_its_format_and_is_read_back_by_it(tmp_path: Path, backend) -> None:
    """The backend whose format a file is (its first bytes) reads it: the same arrays, canonically named."""
    state = small_state()
    path = tmp_path / f"vgg{backend.weight_suffix}"
    backend.write_weights(str(path), state)
    assert weights.file_format(path) == backend.name and weights.format_of_suffix(path) == backend.name
    again = read_weights_file(path)
    assert sorted(again) == sorted(state) and all(again[k].tobytes() == state[k].tobytes() for k in state)


def test_the_declared_formats_tell_every_backends_files_apart() -> None:
    """No extension and no first bytes of one backend's format are another's (a file would go to the wrong one), unless
    one of the two names the members of its zip archives (file_format tries those first: .npz and torch's .pth)."""
    formats = weights.weight_formats()
    assert [f.backend for f in formats] == list(BACKEND_NAMES)
    suffixes = [s for f in formats for s in f.suffixes]
    assert len(set(suffixes)) == len(suffixes) and all(s.startswith(".") and s == s.lower() for s in suffixes)
    for f in formats:
        assert f.magic and all(f.magic) and f.what and f.destination
        for g in formats:
            if g is not f and not (f.members or g.members):
                assert not any(m.startswith(n) or n.startswith(m) for m in f.magic for n in g.magic), (f, g)


def test_a_file_in_no_declared_format_is_refused_naming_every_format(tmp_path: Path) -> None:
    path = tmp_path / "notes.pth"
    path.write_bytes(b"hello")
    with pytest.raises(common.UserError) as e:
        weights.file_format(path)
    formats = weights.weight_formats()
    assert str(e.value).endswith(
        "is neither a torch state dict (.pth) nor " + " nor ".join(f.what for f in formats[1:])
    )
    with pytest.raises(common.UserError) as e:
        weights.format_of_suffix(tmp_path / "w.h5")
    assert str(e.value).endswith(": use " + " or ".join(f.destination for f in formats))


def test_the_format_of_a_file_is_known_without_importing_any_framework(tmp_path: Path) -> None:
    (tmp_path / "a.params").write_bytes((0x112).to_bytes(8, "little") + bytes(16))
    (tmp_path / "b.pth").write_bytes(b"PK\x03\x04" + bytes(16))
    code = (
        "import sys\n"
        "from common.core import weights\n"
        f"print(weights.file_format({str(tmp_path / 'a.params')!r}), weights.file_format({str(tmp_path / 'b.pth')!r}),"
        " weights.format_of_suffix('c.pt'), [m for m in ('torch', 'mxnet') if m in sys.modules])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.split() == ["mxnet", "torch", "torch", "[]"], r.stderr


def test_weight_suffix_is_the_first_extension_the_backend_declares(backend) -> None:
    assert backend.weight_suffix == registry.declared(backend.name, "weights")["suffixes"][0]


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
    monkeypatch.setenv("NST_JAX_HOME", str(tmp_path / "jax"))

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
    assert {"torch": "vgg19-dcbb9e9d.pth", "mxnet": "vgg19-ad2f660d.params", "jax": "vgg19.npz"}[
        backend.name
    ] in message


def test_auto_falls_back_to_random_when_imagenet_is_unavailable(offline: Path, backend) -> None:
    w = backend.resolve_weights("auto", seed=5, upto=UPTO)
    assert w.source == "random" and "imagenet unavailable" in w.description
    assert np.array_equal(w.arrays["features.0.weight"], weights.random_vgg19(5, UPTO)["features.0.weight"])


def test_imagenet_is_read_from_torchvision_cache(offline: Path) -> None:
    ops = get_backend("torch")
    cache = offline / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    state = small_state(seed=11)
    write_pth(cache / "vgg19-dcbb9e9d.pth", state)
    w = ops.resolve_weights("imagenet", seed=0, upto=UPTO)
    assert w.source == "imagenet" and str(cache) in w.description
    np.testing.assert_array_equal(w.arrays["features.5.bias"], state["features.5.bias"])


def test_imagenet_is_read_from_the_gluon_model_zoo_cache(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
