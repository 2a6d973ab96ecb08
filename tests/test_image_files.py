"""Real-world image files: every mode users have, EXIF rotation, animations, bombs, odd paths, random bytes."""

from __future__ import annotations

import gc
import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKEND_NAMES, get_backend
from helpers import random_pixels, smooth_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import cli
from common import UserError
from common.jobs import images

BACKENDS = list(BACKEND_NAMES)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(path: Path, side: int = 50000) -> Path:
    """A 74-byte PNG whose header declares side x side RGB pixels."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    data = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + data)
    return path


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    from PIL import ImageFile

    def never(self):
        raise AssertionError("the bomb was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    bomb = bomb_png(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 100
    with pytest.raises(UserError, match="declares more than 40,000,000 pixels"):
        images.load_image(bomb)


def test_a_large_but_not_bomb_sized_declaration_is_refused_by_our_own_limit(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="declares 8000x8000 pixels"):
        images.load_image(bomb_png(tmp_path / "big.png", side=8000))


# Each mode as a file, and what its RGB pixels must be after loading.
def mode_files(tmp: Path) -> dict[str, tuple[Path, np.ndarray]]:
    """name -> (file, expected uint8 RGB pixels)."""
    files: dict[str, tuple[Path, np.ndarray]] = {}
    grey = np.tile(np.linspace(0, 255, 40).round().astype(np.uint8), (32, 1))

    def add(name: str, img: Image.Image, expected: np.ndarray, suffix: str = ".png", **save) -> None:
        path = tmp / f"{name}{suffix}"
        img.save(path, **save)
        files[name] = (path, expected)

    add("L", Image.fromarray(grey, "L"), np.stack([grey] * 3, -1))
    alpha = np.zeros_like(grey)
    alpha[:, 20:] = 255
    la = np.where(alpha[..., None] == 255, np.stack([grey] * 3, -1), 255).astype(np.uint8)
    add("LA", Image.fromarray(np.stack([grey, alpha], -1), "LA"), la)
    rgb = np.asarray(smooth_image(32, 40, seed=3))
    palette = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    add("P", palette, np.asarray(palette.convert("RGB")))
    rgba = np.zeros((32, 40, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 128  # half-transparent red over white: (255, 127, 127)
    add("RGBA", Image.fromarray(rgba, "RGBA"), np.broadcast_to(np.array([255, 127, 127], np.uint8), (32, 40, 3)))
    red = Image.new("RGB", (40, 32), (220, 30, 40))
    add("CMYK", red.convert("CMYK"), np.asarray(red), ".jpg", quality=98)
    deep = np.tile(np.array([0, 32768, 65535], np.uint16).repeat([10, 10, 20]), (32, 1))
    add(
        "I;16",
        Image.fromarray(deep),
        np.stack([np.tile(np.array([0, 128, 255], np.uint8).repeat([10, 10, 20]), (32, 1))] * 3, -1),
    )
    flt = np.tile(np.linspace(-1.0, 3.0, 40, dtype=np.float32), (32, 1))
    scaled = np.rint((flt.astype(np.float64) + 1) / 4 * 255).astype(np.uint8)
    add("F", Image.fromarray(flt, "F"), np.stack([scaled] * 3, -1), ".tif")
    return files


def rotated_jpeg(path: Path) -> Path:
    """A 40x20 (W x H) JPEG, left half red, right half blue, whose EXIF says: rotate 90 degrees clockwise."""
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :20] = (255, 0, 0)
    a[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the stored image must be rotated 90 degrees clockwise to be upright
    Image.fromarray(a).save(path, exif=exif, quality=98)
    return path


def test_exif_orientation_is_applied_so_the_result_is_upright(tmp_path: Path) -> None:
    img = images.load_image(rotated_jpeg(tmp_path / "phone.jpg"))
    a = np.asarray(img).astype(int)
    assert img.size == (20, 40)  # W x H: turned upright
    assert np.abs(a[:16].mean((0, 1)) - (255, 0, 0)).max() < 8  # the left half is now the top
    assert np.abs(a[-16:].mean((0, 1)) - (0, 0, 255)).max() < 8


def test_an_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (24, 24), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert np.asarray(images.load_image(path)).reshape(-1, 3).mean(0).round().tolist() == [255, 0, 0]


def test_loading_leaves_no_file_open(tmp_path: Path) -> None:
    """PIL keeps an animation's file open for its other frames; load_image closes it (no ResourceWarning)."""
    frames = [Image.new("RGB", (24, 24), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    Image.new("RGB", (24, 24)).save(tmp_path / "still.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = [images.load_image(path), images.load_image(tmp_path / "still.png")]
        gc.collect()
    assert all(img.size == (24, 24) for img in kept)
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "F"])
def test_every_image_mode_loads_as_the_rgb_pixels_it_shows(mode: str, tmp_path: Path) -> None:
    path, expected = mode_files(tmp_path)[mode]
    assert Image.open(path).mode == mode
    img = images.load_image(path)
    assert img.mode == "RGB" and img.size == (40, 32)
    tolerance = 6 if path.suffix == ".jpg" else 1
    assert np.abs(np.asarray(img).astype(int) - expected).max() <= tolerance


@pytest.mark.parametrize("name", BACKENDS)
@pytest.mark.parametrize("case", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "F", "EXIF", "GIF", "16x16"])
def test_each_kind_of_file_stylizes_on_each_backend(case: str, name: str, tmp_path: Path, capsys) -> None:
    get_backend(name)
    if case == "EXIF":
        path = rotated_jpeg(tmp_path / "phone.jpg")
    elif case == "GIF":
        path = tmp_path / "anim.gif"
        Image.new("RGB", (24, 24), (200, 50, 50)).save(path, save_all=True, append_images=[Image.new("RGB", (24, 24))])
    elif case == "16x16":
        path = tmp_path / "small.png"
        smooth_image(16, 16).save(path)
    else:
        path = mode_files(tmp_path)[case][0]
    style = tmp_path / "style.png"
    Image.fromarray(random_pixels(32, 32)).save(style)
    out = tmp_path / "out.png"
    args = ["stylize", "--backend", name, "--content", str(path), "--style", str(path), "--output", str(out)]
    code = cli.main([*args, "--max-side", "32", "--steps", "2", "--weights", "random", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    result = Image.open(out)
    assert result.mode == "RGB" and max(result.size) == 32
    assert np.asarray(result).std() > 1  # a picture, not a flat or black one


@pytest.mark.parametrize("name", BACKENDS)
def test_paths_with_spaces_and_non_ascii_characters_work_everywhere(name: str, tmp_path: Path, capsys) -> None:
    get_backend(name)
    folder = tmp_path / "été à Zürich" / "写真 フォルダ"
    folder.mkdir(parents=True)
    content, style, out, log = (folder / n for n in ("chat noir.png", "peinture ü.jpg", "résultat 1.png", "run é.json"))
    smooth_image(32, 48).save(content)
    Image.fromarray(random_pixels(32, 32)).save(style)
    args = ["stylize", "--backend", name, "--content", str(content), "--style", str(style), "--output", str(out)]
    code = cli.main([*args, "--log", str(log), "--size", "32", "48", "--steps", "2", "--weights", "random", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert Image.open(out).size == (48, 32) and log.read_text(encoding="utf-8").count("résultat 1.png") >= 1


# Property-based: whatever the bytes, the loader returns an RGB image or raises one UserError, nothing else.
VALID = [
    ("1", "PNG"),
    ("L", "PNG"),
    ("LA", "PNG"),
    ("P", "PNG"),
    ("RGB", "PNG"),
    ("RGBA", "PNG"),
    ("I;16", "PNG"),
    ("I", "TIFF"),
    ("L", "JPEG"),
    ("RGB", "JPEG"),
    ("CMYK", "JPEG"),
    ("RGB", "BMP"),
    ("P", "GIF"),
    ("RGB", "WEBP"),
    ("RGBA", "WEBP"),
    ("F", "TIFF"),
    ("I;16", "TIFF"),
    ("CMYK", "TIFF"),
    ("RGBA", "TIFF"),
]
EXTENSION = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "GIF": ".gif", "WEBP": ".webp", "TIFF": ".tif"}
SIGNATURES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00", b"RIFF\x00\x00\x00\x00WEBP"]


def load_or_refuse(path: Path) -> Image.Image | None:
    """The loader's answer: an image, or None for a UserError (any other exception fails the test)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning would be a second line on stderr
            img = images.load_image(path)
    except UserError as e:
        assert "\n" not in str(e)
        return None
    assert img.mode == "RGB" and min(img.size) >= 1
    return img


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    signature=st.sampled_from(SIGNATURES),
    body=st.binary(max_size=600),
    suffix=st.sampled_from([".png", ".jpg", ".gif", ".tif", ".bmp", ".webp", ""]),
)
def test_random_bytes_get_an_image_or_one_clear_error(signature: bytes, body: bytes, suffix: str, tmp_path: Path):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(signature + body)
    load_or_refuse(path)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(VALID),
    width=st.integers(1, 48),
    height=st.integers(1, 48),
    seed=st.integers(0, 2**16),
)
def test_random_valid_images_load_at_their_size(kind: tuple[str, str], width: int, height: int, seed: int, tmp_path):
    mode, fmt = kind
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    elif mode == "F":
        img = Image.fromarray(rng.standard_normal((height, width)).astype(np.float32), "F")
    elif mode == "I":
        img = Image.fromarray(rng.integers(-(2**20), 2**20, (height, width), dtype=np.int32), "I")
    else:
        img = img.convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    path = tmp_path / f"valid{EXTENSION[fmt]}"
    path.write_bytes(buffer.getvalue())
    loaded = load_or_refuse(path)
    assert loaded is not None and loaded.size == (width, height)
