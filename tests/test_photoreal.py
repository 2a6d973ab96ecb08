"""The photorealistic method (HRNet generator, document 004): wiring, parity, model files, nst photoreal / apply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import BACKEND_NAMES
from helpers import norm_inputs, rel_err, set_flag, smooth_image

import cli
from common.core import hrnet
from common.jobs import models, presets

TOL = {"float32": 1e-4, "float64": 1e-10}


def content_array(h: int, w: int, dtype: str = "float32") -> np.ndarray:
    """A normalized-looking (1, 3, h, w) input."""
    return np.random.default_rng(3).standard_normal((1, 3, h, w)).astype(dtype)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A 32x32 content image, a 40x36 style image, a 32x48 image to apply to, and an output folder."""
    paths = {name: tmp_path / f"{name}.png" for name in ("content", "style", "other", "odd")}
    smooth_image(32, 32, seed=1).save(paths["content"])
    smooth_image(40, 36, seed=2).save(paths["style"])
    smooth_image(32, 48, seed=3).save(paths["other"])
    smooth_image(30, 32, seed=4).save(paths["odd"])
    (tmp_path / "out").mkdir()
    paths["out"] = tmp_path / "out"
    return paths


def train(backend: str, files: dict[str, Path], model: Path, output: Path, *extra: str) -> int:
    """nst photoreal on the tiny images, 2 steps."""
    args = ["photoreal", "--backend", backend, "--content", str(files["content"]), "--style", str(files["style"])]
    args += ["--output", str(output), "--size", "32", "32", "--steps", "2", "--weights", "random", "--quiet"]
    return cli.main([*args, "--save-model", str(model), *extra])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nst: error: "), err
    return err


# --- wiring -----------------------------------------------------------------------------------------------------
def test_the_architecture_has_the_documents_layers_and_channel_counts() -> None:
    shapes = hrnet.param_shapes()
    assert [b.name for b in hrnet.BLOCKS] == [
        "layer1_1",
        "layer2_1",
        "downsample2_1",
        "layer3_1",
        "layer3_2",
        "downsample3_1",
        "downsample3_2",
        "downsample3_3",
        "layer4_1",
        "layer5_1",
        "layer6_1",
        "layer7_1",
        "layer8_1",
    ]
    assert shapes["layer1_1.conv1.weight"] == (4, 3, 1, 1) and shapes["layer1_1.conv2.weight"] == (4, 4, 3, 3)
    assert shapes["layer1_1.conv3.weight"] == (16, 4, 1, 1) and shapes["layer1_1.shortcut.weight"] == (16, 3, 1, 1)
    assert "layer3_1.shortcut.weight" not in shapes  # 32 -> 32: identity residual
    assert shapes["layer4_1.conv1.weight"] == (16, 64, 1, 1)
    assert shapes["layer5_1.conv1.weight"] == (16, 192, 1, 1) and shapes["layer5_1.shortcut.weight"] == (64, 192, 1, 1)
    assert shapes["downsample3_2.weight"] == (32, 32, 3, 3) and hrnet.BY_NAME["downsample3_2"].stride == 4
    assert shapes["layer8_1.weight"] == (3, 16, 3, 3) and hrnet.BY_NAME["layer8_1"].stride == 1


@pytest.mark.parametrize("size", [(32, 32), (48, 64)])
def test_the_generator_keeps_the_image_size_and_holds_the_canonical_arrays(backend, size) -> None:
    arrays = hrnet.random_generator(0)
    g = backend.generator(arrays)
    Y = backend.to_numpy(g(backend.asarray(content_array(*size))))
    assert Y.shape == (1, 3, *size) and np.all(np.isfinite(Y))
    got = backend.generator_arrays(g)
    assert set(got) == set(arrays) and all(np.array_equal(got[k], arrays[k]) for k in arrays)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_generator_gives_the_same_output_in_both_backends(both, dtype) -> None:
    X = content_array(32, 48, dtype)
    outs = [ops.to_numpy(ops.generator(hrnet.random_generator(5), dtype)(ops.asarray(X))) for ops in both]
    assert outs[0].dtype == outs[1].dtype == np.dtype(dtype)
    assert rel_err(outs[1], outs[0]) <= TOL[dtype]


def reference_upsample(x: np.ndarray, scale: int) -> np.ndarray:
    """Bilinear upsampling without aligned corners (half-pixel centres, edges clamped), in numpy float64."""

    def weights(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.maximum((np.arange(n * scale) + 0.5) / scale - 0.5, 0)
        lo = np.minimum(np.floor(src).astype(int), n - 1)
        hi = np.minimum(lo + 1, n - 1)
        return lo, hi, src - lo

    (y0, y1, fy), (x0, x1, fx) = weights(x.shape[2]), weights(x.shape[3])
    rows = x[:, :, y0] * (1 - fy)[:, None] + x[:, :, y1] * fy[:, None]
    return rows[..., x0] * (1 - fx) + rows[..., x1] * fx


@pytest.mark.parametrize("scale", [2, 4])
def test_upsampling_is_bilinear_without_aligned_corners(backend, scale) -> None:
    X = np.random.default_rng(0).standard_normal((1, 2, 5, 7))
    if backend.name == "torch":
        from backends.torch.generator import upsample

        got = backend.to_numpy(upsample(backend.asarray(X), scale))
    elif backend.name == "jax":
        from backends.jax.generator import upsample

        got = backend.to_numpy(upsample(backend.asarray(X), scale))
    else:
        from mxnet import nd

        from backends.mxnet.generator import upsample

        got = backend.to_numpy(upsample(nd, backend.asarray(X), scale))
    np.testing.assert_allclose(got, reference_upsample(X, scale), rtol=0, atol=1e-12)


def test_instance_norm_is_torchs_default_no_affine_biased_variance_eps_1e_5(backend) -> None:
    X = np.random.default_rng(0).standard_normal((1, 3, 6, 5)) * 3 + 1
    expected = (X - X.mean(axis=(2, 3), keepdims=True)) / np.sqrt(X.var(axis=(2, 3), keepdims=True) + 1e-5)
    got, _ = instance_normalized(backend, X, np.ones_like(X), "float64")
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_the_float32_instance_norm_is_within_float32_rounding_of_the_float64_one(backend) -> None:
    """Output and input gradient within 2 units of float32 roundoff of the same norm in float64, also where the
    channels' means are 30x their spread: both backends normalize in float64 and round once (measured at most 0.8
    and 1.1 units; MXNet's float32 BatchNorm was 600 and 60 units off, torch's float32 instance norm 26 and 2:
    docs/porting.md)."""
    u = 2.0**-24
    for offset in (0.0, 30.0):
        X, G = norm_inputs(offset)
        exact_y, exact_g = instance_normalized(backend, X.astype(np.float64), G, "float64")
        y, g = instance_normalized(backend, X, G, "float32")
        assert rel_err(y, exact_y) <= 2 * u and rel_err(g, exact_g) <= 2 * u, (offset, rel_err(y, exact_y))


def instance_normalized(backend, X: np.ndarray, G: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """The generator's instance norm of X in ``dtype`` (MXNet: in training mode, as the Generator runs it): the
    output and the gradient of sum(G y) with respect to X, as float64 arrays."""
    if backend.name == "torch":
        import torch

        from backends.torch.generator import instance_norm

        data = torch.tensor(X, dtype=getattr(torch, dtype), requires_grad=True)
        y = instance_norm(data)
        (y * torch.tensor(G, dtype=y.dtype)).sum().backward()
        return y.detach().double().numpy(), data.grad.double().numpy()
    if backend.name == "jax":
        import jax

        from backends.jax.generator import instance_norm

        data = jax.numpy.asarray(X, dtype)
        y, pullback = jax.vjp(instance_norm, data)
        assert y.dtype == np.dtype(dtype)
        (grad,) = pullback(jax.numpy.asarray(G, dtype))
        return np.asarray(y, np.float64), np.asarray(grad, np.float64)
    import mxnet as mx

    from backends.mxnet.generator import InstanceNorm

    norm = InstanceNorm(X.shape[1])
    norm.initialize()
    norm.cast(dtype)
    norm.hybridize()
    data = mx.nd.array(X, dtype=dtype)
    data.attach_grad()
    with mx.autograd.record(train_mode=True):
        y = norm(data)
        (y * mx.nd.array(G, dtype=dtype)).sum().backward()
    assert y.dtype == np.dtype(dtype)
    return y.asnumpy().astype(np.float64), data.grad.asnumpy().astype(np.float64)


# --- nst photoreal, the preset, saving and nst apply -------------------------------------------------------------
def test_the_preset_holds_the_recipe() -> None:
    s = presets.settings({}, "photoreal-hrnet")
    assert (s.method, s.size, s.steps, s.lr, s.lr_decay_every, s.lr_decay_factor) == (
        "hrnet",
        (500, 500),
        1000,
        5e-3,
        200,
        0.9,
    )
    assert (s.content_weight, s.style_weight, s.tv_weight, s.content_layers) == (150.0, 1.0, 0.0, ("conv4_2",))
    assert s.style_layer_weights == (0.1, 0.2, 0.4, 0.8, 1.6) and s.normalize and s.style_gram == "per-pixel"
    assert "divisible by 4" in presets.describe(presets.get("photoreal-hrnet"))


def test_train_save_and_apply_in_the_same_and_the_other_backend(both, files, tmp_path) -> None:
    model, output = tmp_path / "m.npz", tmp_path / "o.png"
    assert train("torch", files, model, output) == 0
    arrays, meta = models.load_model(model)
    assert meta["trained_by"] == "torch" and meta["format"] == models.FORMAT and meta["steps"] == 2
    assert not all(np.array_equal(arrays[k], v) for k, v in hrnet.random_generator(0).items())
    results = {}
    for name in BACKEND_NAMES:
        folder = tmp_path / name
        folder.mkdir()
        args = ["apply", str(model), str(files["content"]), str(files["other"]), "--output-dir", str(folder)]
        assert cli.main([*args, "--backend", name, "--quiet"]) == 0
        results[name] = [np.asarray(open_rgb(folder / f"{n}.png"), np.int16) for n in ("content", "other")]
    trained = np.asarray(open_rgb(output), np.int16)
    assert np.abs(results["torch"][0] - trained).max() == 0  # apply reproduces the training run's own output
    for a, b in zip(results["torch"], results["mxnet"], strict=True):
        assert a.shape == b.shape and np.abs(a - b).max() <= 1


def test_a_model_trained_in_mxnet_applies_in_torch(both, files, tmp_path) -> None:
    model, output = tmp_path / "m.npz", tmp_path / "o.png"
    assert train("mxnet", files, model, output) == 0
    assert models.load_model(model)[1]["trained_by"] == "mxnet"
    args = ["apply", str(model), str(files["content"]), "--output-dir", str(files["out"]), "--quiet"]
    assert cli.main([*args, "--backend", "torch"]) == 0
    a = np.asarray(open_rgb(files["out"] / "content.png"), np.int16)
    assert np.abs(a - np.asarray(open_rgb(output), np.int16)).max() <= 1


def test_nst_stylize_with_the_preset_runs_the_photoreal_method(backend, files, tmp_path, capsys) -> None:
    output = tmp_path / "o.png"
    args = ["stylize", "--preset", "photoreal-hrnet", "--backend", backend.name, "--content", str(files["content"])]
    args += ["--style", str(files["style"]), "--output", str(output), "--size", "32", "32", "--steps", "1"]
    assert cli.main([*args, "--weights", "random", "--style-max-side", "32"]) == 0
    assert open_rgb(output).size == (32, 32)
    assert "1 steps on " + backend.name in capsys.readouterr().out


def open_rgb(path: Path):
    from PIL import Image

    with Image.open(path) as img:
        return img.convert("RGB")


# --- refusals: exit 2, one line, nothing written ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra, message",
    [
        (["--size", "30", "32"], "divisible by 4"),
        (["--optimizer", "lbfgs"], "--optimizer is not supported"),
        (["--save-model", "model.pth"], "unsupported extension"),
    ],
)
def test_nst_stylize_photoreal_refuses_bad_settings(files, tmp_path, capsys, extra, message) -> None:
    output = tmp_path / "o.png"
    args = ["stylize", "--preset", "photoreal-hrnet", "--content", str(files["content"]), "--output", str(output)]
    args += ["--style", str(files["style"]), "--steps", "1", "--size", "32", "32", "--weights", "random"]
    assert cli.main(set_flag(args, *extra)) == 2
    assert message in one_error_line(capsys)
    assert not output.exists() and not list(tmp_path.glob("*.npz"))


def test_save_model_needs_the_photoreal_method(files, tmp_path, capsys) -> None:
    args = ["stylize", "--content", str(files["content"]), "--output", str(tmp_path / "o.png")]
    assert cli.main([*args, "--save-model", str(tmp_path / "m.npz"), "--steps", "1"]) == 2
    assert "photoreal" in one_error_line(capsys) and not (tmp_path / "o.png").exists()


def test_nst_photoreal_has_no_preset_flag(capsys) -> None:
    assert cli.main(["photoreal", "--preset", "d2l"]) == 2


def foreign_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Files that are not models, and the words their refusal names."""
    text = tmp_path / "text.npz"
    text.write_text("hello")
    plain = tmp_path / "plain.npz"
    np.savez(plain, weight=np.zeros(3))
    wrong = tmp_path / "wrong.npz"
    arrays = hrnet.random_generator(0)
    arrays["layer1_1.conv1.weight"] = np.zeros((4, 3, 3, 3), np.float32)
    meta = np.frombuffer(b'{"format": "nst-hrnet-generator", "version": 1}', dtype=np.uint8)
    np.savez(wrong, __meta__=meta, **arrays)
    return {
        "missing": (tmp_path / "missing.npz", "does not exist"),
        "text": (text, "is not an nst generator model"),
        "plain": (plain, "no nst metadata"),
        "wrong": (wrong, "has shape"),
    }


@pytest.mark.parametrize("kind", ["missing", "text", "plain", "wrong"])
def test_nst_apply_refuses_a_foreign_or_mismatched_model_in_one_line(files, tmp_path, capsys, kind) -> None:
    path, words = foreign_files(tmp_path)[kind]
    assert cli.main(["apply", str(path), str(files["content"]), "--output-dir", str(files["out"])]) == 2
    assert words in one_error_line(capsys)
    assert not list(files["out"].iterdir())


def test_nst_apply_refuses_bad_images_and_folders_before_writing_anything(files, tmp_path, capsys) -> None:
    model = tmp_path / "m.npz"
    models.save_model(model, hrnet.random_generator(0), {"dtype": "float32", "normalize": True})
    base = ["apply", str(model), str(files["content"])]
    assert cli.main([*base, str(files["odd"]), "--output-dir", str(files["out"])]) == 2
    assert "divisible by 4" in one_error_line(capsys)
    assert cli.main([*base, "--output-dir", str(files["content"] / "results")]) == 2
    assert "is a file, not a folder" in one_error_line(capsys)
    assert cli.main([*base, str(files["content"]), "--output-dir", str(files["out"])]) == 2
    assert "would both be written" in one_error_line(capsys)
    assert cli.main([*base, "--output-dir", str(files["out"]), "--backend", "tensorflow"]) == 2
    assert "unknown backend" in one_error_line(capsys)
    assert not list(files["out"].iterdir())


def test_nst_apply_resizes_to_size_when_given(files, tmp_path) -> None:
    model = tmp_path / "m.npz"
    models.save_model(model, hrnet.random_generator(0), {"dtype": "float32", "normalize": True})
    args = ["apply", str(model), str(files["odd"]), "--output-dir", str(files["out"]), "--size", "16", "24"]
    assert cli.main([*args, "--quiet"]) == 0
    assert open_rgb(files["out"] / "odd.png").size == (24, 16)
