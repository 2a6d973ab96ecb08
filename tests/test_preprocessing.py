"""Preprocessing and postprocessing: the same file gives the same tensor in both backends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import random_pixels, rel_err, smooth_image
from PIL import Image

import common
from common.core import pixels, reference
from common.jobs import images


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_preprocess_matches_the_reference(backend: common.Backend, dtype: str, image_files) -> None:
    img = images.load_image(image_files[0])
    X = backend.to_numpy(backend.preprocess(img, (30, 40), dtype))
    assert X.shape == (1, 3, 30, 40) and X.dtype == np.dtype(dtype)
    expected = reference.preprocess(pixels.pixels(img, (30, 40)))
    assert np.abs(X - expected).max() <= (1e-6 if dtype == "float32" else 1e-15)


def test_preprocessing_the_same_file_gives_the_same_tensor_in_both_backends(both, image_files) -> None:
    torch_ops, mxnet_ops = both
    for path in image_files:
        img = images.load_image(path)
        a = torch_ops.to_numpy(torch_ops.preprocess(img, (33, 47)))
        b = mxnet_ops.to_numpy(mxnet_ops.preprocess(img, (33, 47)))
        assert np.abs(a - b).max() <= 1e-5


def test_sizes_are_rows_then_columns(backend: common.Backend) -> None:
    img = smooth_image(50, 80)  # 50 rows, 80 columns
    assert tuple(backend.to_numpy(backend.preprocess(img, (20, 60))).shape) == (1, 3, 20, 60)


def test_float64_preprocessing_never_passes_through_float32(backend: common.Backend) -> None:
    px = random_pixels(4, 4)
    X = backend.to_numpy(backend.to_tensor(px, "float64"))
    # 1/255 and the ImageNet constants are not float32 numbers; a float32 detour would show at 1e-8.
    np.testing.assert_array_equal(X, reference.preprocess(px))


def test_unnormalized_input_is_pixels_over_255(backend: common.Backend) -> None:
    px = random_pixels(3, 5)
    X = backend.to_numpy(backend.to_tensor(px, "float64", normalize=False))
    np.testing.assert_allclose(X[0].transpose(1, 2, 0), px / 255, rtol=0, atol=1e-15)


def test_postprocess_inverts_preprocess_exactly_on_8_bit_images(backend: common.Backend) -> None:
    img = Image.fromarray(random_pixels(17, 23, seed=4))
    back = backend.postprocess(backend.preprocess(img, (17, 23)))
    np.testing.assert_array_equal(np.asarray(back), np.asarray(img))


def test_postprocess_clips_and_rounds_to_the_nearest_level(backend: common.Backend) -> None:
    # Pixel values just under a level boundary: truncation (torchvision's ToPILImage) would give one less.
    hwc = np.full((2, 2, 3), 100.4 / 255)
    hwc[0, 0] = [2.0, -1.0, 200.6 / 255]
    X = backend.asarray(((hwc - reference.IMAGENET_MEAN) / reference.IMAGENET_STD).transpose(2, 0, 1)[None])
    out = np.asarray(backend.postprocess(X))
    assert out[0, 0].tolist() == [255, 0, 201]
    assert out[1, 1].tolist() == [100, 100, 100]


def test_resize_is_pil_bilinear_as_torchvision_resize_does_on_pil_images() -> None:
    torchvision = pytest.importorskip("torchvision")
    img = smooth_image(61, 83)
    ours = pixels.pixels(img, (30, 45))
    theirs = np.asarray(torchvision.transforms.Resize((30, 45))(img))
    np.testing.assert_array_equal(ours, theirs)


def test_preprocessed_file_round_trips_through_disk(tmp_path: Path, backend: common.Backend) -> None:
    out = tmp_path / "x.png"
    img = smooth_image(20, 30)
    images.save_image(backend.postprocess(backend.preprocess(img, (20, 30))), out)
    assert rel_err(np.asarray(Image.open(out)), np.asarray(img)) == 0
