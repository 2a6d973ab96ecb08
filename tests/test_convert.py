"""nst convert-weights: torch .pth <-> Gluon .params (every two backends' formats), bit-exact round trips, clear
refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import PAIRS, get_backend, pair_id

import cli
from common.core import layers, weights
from common.core.interface import read_weights_file

# Each pair both ways: from the first backend's format to the second's and back, and the other way round.
ORDERED_PAIRS = [*PAIRS, *((b, a) for a, b in PAIRS)]


@pytest.fixture(autouse=True)
def both_frameworks() -> None:
    get_backend("torch"), get_backend("mxnet")


def small_state(seed: int = 1) -> dict[str, np.ndarray]:
    d = weights.random_vgg19(seed, layers.BY_NAME["relu2_1"])
    d["classifier.6.bias"] = np.arange(1000, dtype=np.float32)
    return d


def write_pth(path: Path, state) -> None:
    import torch

    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, path)


def convert(src: Path, dst: Path, capsys) -> tuple[int, str, str]:
    code = cli.main(["convert-weights", str(src), str(dst)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("pair", ORDERED_PAIRS, ids=pair_id)
def test_a_round_trip_is_bit_exact(pair: tuple[str, str], tmp_path: Path, capsys) -> None:
    """From the first backend's format (the file written by it) to the second's and back, each file in the format of
    the backend that wrote it and read by that backend."""
    first, second = (get_backend(name) for name in pair)
    state = small_state()
    state["features.0.weight"][0, 0, 0, 0] = np.float32(1e-45)  # a subnormal survives too
    src, mid, back = (
        tmp_path / f"{stem}{ops.weight_suffix}" for stem, ops in (("a", first), ("b", second), ("c", first))
    )
    first.write_weights(str(src), state)
    code, out, _ = convert(src, mid, capsys)
    assert code == 0 and out.strip().endswith(f"as {second.name} weights") and weights.file_format(mid) == second.name
    code, out, _ = convert(mid, back, capsys)
    assert code == 0 and out.strip().endswith(f"as {first.name} weights") and weights.file_format(back) == first.name
    again = read_weights_file(back)
    assert sorted(again) == sorted(state)
    for key in state:
        assert again[key].dtype == state[key].dtype
        assert again[key].tobytes() == state[key].tobytes(), key


def test_params_round_trip_is_bit_exact_and_keeps_gluon_names(tmp_path: Path, capsys) -> None:
    import mxnet as mx

    gluon = {
        "features.0.weight": np.random.default_rng(0).standard_normal((64, 3, 3, 3)).astype(np.float32),
        "features.0.bias": np.zeros(64, np.float32),
        "output.bias": np.ones(1000, np.float32),
    }
    src, mid, back = tmp_path / "a.params", tmp_path / "b.pth", tmp_path / "c.params"
    mx.nd.save(str(src), {k: mx.nd.array(v) for k, v in gluon.items()})
    assert convert(src, mid, capsys)[0] == 0
    assert convert(mid, back, capsys)[0] == 0
    loaded = {k: v.asnumpy() for k, v in mx.nd.load(str(back)).items()}
    assert sorted(loaded) == sorted(gluon)
    assert all(loaded[k].tobytes() == gluon[k].tobytes() for k in gluon)


def test_converted_files_load_into_each_librarys_own_vgg19(tmp_path: Path, capsys) -> None:
    """Full-size features: the .params loads into Gluon's model zoo vgg19, the .pth into torchvision's."""
    import mxnet as mx
    import torch
    import torchvision

    state = weights.random_vgg19(3)
    src, params, pth = tmp_path / "full.pth", tmp_path / "full.params", tmp_path / "back.pth"
    write_pth(src, state)
    assert convert(src, params, capsys)[0] == 0
    net = mx.gluon.model_zoo.vision.vgg19()
    net.load_parameters(str(params), allow_missing=True)  # the classifier is not in the file
    np.testing.assert_array_equal(net.features[28].weight.data().asnumpy(), state["features.28.weight"])
    assert convert(params, pth, capsys)[0] == 0
    tv = torchvision.models.vgg19(weights=None)
    tv.load_state_dict(torch.load(pth, weights_only=True), strict=False)
    np.testing.assert_array_equal(tv.features[34].bias.detach().numpy(), state["features.34.bias"])


def test_gluon_legacy_names_are_converted(tmp_path: Path, capsys) -> None:
    import mxnet as mx

    src, dst = tmp_path / "legacy.params", tmp_path / "out.pth"
    w = np.ones((64, 3, 3, 3), np.float32)
    mx.nd.save(str(src), {"vgg0_conv0_weight": mx.nd.array(w), "vgg0_conv0_bias": mx.nd.zeros(64)})
    assert convert(src, dst, capsys)[0] == 0
    assert sorted(read_weights_file(dst)) == ["features.0.bias", "features.0.weight"]


@pytest.mark.parametrize(
    "case,fragment",
    [
        ("not a weight file", "neither a torch state dict"),
        ("wrong shapes", "features.2.weight has shape (64, 64, 1, 1)"),
        ("foreign architecture", "not a VGG-19 weight file: it holds 'fc.weight'"),
        ("no conv1_1", "holds no conv1_1 weights"),
        ("missing source", "does not exist"),
        ("bad destination", "use .pth (torch state dict) or .params (Gluon parameters) or .npz"),
        ("same file", "same file"),
    ],
)
def test_bad_files_are_refused_in_one_line(case: str, fragment: str, tmp_path: Path, capsys) -> None:
    src, dst = tmp_path / "src.pth", tmp_path / "dst.params"
    state = small_state()
    if case == "not a weight file":
        src.write_text("hello\n")
    elif case == "wrong shapes":
        state["features.2.weight"] = np.zeros((64, 64, 1, 1), np.float32)
        write_pth(src, state)
    elif case == "foreign architecture":
        write_pth(src, {"fc.weight": np.zeros((10, 4), np.float32), **state})
    elif case == "no conv1_1":
        write_pth(src, {k: v for k, v in state.items() if not k.startswith("features.0.")})
    elif case == "missing source":
        src = tmp_path / "nope.pth"
    elif case == "bad destination":
        write_pth(src, state)
        dst = tmp_path / "dst.bin"
    elif case == "same file":
        write_pth(src, state)
        dst = src
    before = src.read_bytes() if src.exists() else None
    code, _, err = convert(src, dst, capsys)
    assert code == 2 and err.count("\n") == 1 and fragment in err and "Traceback" not in err, err
    if case != "same file":
        assert not dst.exists()
    if before is not None:
        assert src.read_bytes() == before
