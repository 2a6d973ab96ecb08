"""Image files in and out: robust loading of what users really have, and saving results atomically.

The one resize both backends share is in common/core/pixels.py.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from ..core.errors import UserError
from ..core.files import check_input_file
from .outputs import IMAGE_EXTENSIONS, check_writable, write_atomic

MIN_SIDE = 16
MAX_PIXELS = 40_000_000  # refused before decoding: a decompression bomb declares far more than this
ImageFile.LOAD_TRUNCATED_IMAGES = False


def load_image(path: str | os.PathLike, what: str = "image") -> Image.Image:
    """Open an image file as an upright 8-bit RGB PIL image, or raise UserError with one clear line."""
    p = Path(path)
    if check_input_file(p, what, "an image file").st_size == 0:  # never opened unless a regular file
        raise UserError(f"{what} {str(p)!r} is an empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # e.g. "Corrupt EXIF data": the image itself is fine
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as img:  # closed on leaving: PIL keeps an animation's file open for its frames
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise UserError(f"{what} {str(p)!r} declares {w}x{h} pixels, more than {MAX_PIXELS:,}: refused")
                img.seek(0)  # first frame of an animation
                img.load()
                return to_rgb(ImageOps.exif_transpose(img))
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UserError(
            f"{what} {str(p)!r} declares more than {MAX_PIXELS:,} pixels (a decompression bomb?): refused before "
            "decoding"
        ) from e
    except UnidentifiedImageError as e:
        raise UserError(f"{what} {str(p)!r} is not an image PIL can read ({type(e).__name__})") from e
    except PermissionError as e:
        raise UserError(f"{what} {str(p)!r} cannot be read: permission denied") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise UserError(f"{what} {str(p)!r} is damaged or truncated: {e}") from e


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB: alpha composited on white, palette/grey/CMYK converted, 16-bit and float scaled to 0..255."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        lo, hi = (0.0, 65535.0) if img.mode.startswith("I;16") else (float(np.nanmin(a)), float(np.nanmax(a)))
        a = np.nan_to_num((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a))
        img = Image.fromarray(np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB")


def check_size(img: Image.Image, what: str = "image") -> None:
    """Refuse an image under MIN_SIDE pixels on a side."""
    w, h = img.size
    if min(w, h) < MIN_SIDE:
        raise UserError(f"{what} is {w}x{h} pixels; it needs at least {MIN_SIDE} on each side")


def fit_size(img: Image.Image, max_side: int) -> tuple[int, int]:
    """(H, W) of an image scaled so its longer side is max_side, keeping the aspect ratio."""
    w, h = img.size
    scale = max_side / max(w, h)
    return max(1, round(h * scale)), max(1, round(w * scale))


def save_image(img: Image.Image, path: str | os.PathLike, mark: str | None = None) -> None:
    """Write an image atomically; the format follows the extension; ``mark`` says in the file what wrote it
    (derived images: only such a file may be replaced by a derived name, see written_by)."""
    p = check_writable(path, IMAGE_EXTENSIONS)
    fmt = Image.registered_extensions()[p.suffix.lower()]
    extra = _marked(fmt, mark) if mark else {}
    write_atomic(p, lambda tmp: img.save(tmp, format=fmt, **extra), "image")


def shorter_side_size(img: Image.Image, side: int) -> tuple[int, int]:
    """(H, W) of an image scaled so its shorter side is ``side``, keeping the aspect ratio."""
    w, h = img.size
    scale = side / min(w, h)
    return max(1, round(h * scale)), max(1, round(w * scale))


def preserve_colors(result: Image.Image, content: Image.Image) -> Image.Image:
    """The result's luminance with the content's colour: Y from the result, Cb and Cr from the content (YCbCr),
    as neural-style's -original_colors does."""
    y, _, _ = result.convert("YCbCr").split()
    _, cb, cr = content.resize(result.size, Image.Resampling.BILINEAR).convert("YCbCr").split()
    return Image.merge("YCbCr", (y, cb, cr)).convert("RGB")


def save_gif(frames: list[Image.Image], path: str | os.PathLike, seconds_per_frame: float = 0.1) -> None:
    """Write frames (resized to the last one's size) as a looping animated GIF, atomically."""
    p = check_writable(path, (".gif",), "animation (--gif)")
    size = frames[-1].size
    frames = [f if f.size == size else f.resize(size, Image.Resampling.BILINEAR) for f in frames]
    duration = max(20, round(seconds_per_frame * 1000))
    write_atomic(
        p,
        lambda tmp: frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0
        ),
        "animation",
    )


MARK_KEY = "nst"  # the PNG text chunk (JPEG: the comment; TIFF: the description) that holds a derived image's mark


def _marked(fmt: str, mark: str) -> dict[str, object]:
    """PIL's save keywords that store the mark in a file of format ``fmt`` (none where the format has no place)."""
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text(MARK_KEY, mark)
        return {"pnginfo": info}
    if fmt == "JPEG":
        return {"comment": mark.encode()}
    if fmt == "TIFF":
        return {"description": mark}
    return {}


def written_by(path: str | os.PathLike) -> str | None:
    """The mark a derived image was written with, or None (not an image, not marked, or of another program)."""
    try:
        with Image.open(path) as img:
            found = [img.info.get(MARK_KEY), img.info.get("comment")]
            if hasattr(img, "tag_v2"):
                found.append(img.tag_v2.get(270))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    for value in found:
        text = value.decode(errors="replace") if isinstance(value, bytes) else value
        if isinstance(text, str) and text.startswith("nst "):
            return text
    return None


def check_derived_image(path: str | os.PathLike, mark: str, what: str, fix: str) -> None:
    """UserError when a derived image's name is taken by a file that nst did not write there with this mark: a
    derived name replaces only what the same command wrote before (a rerun works, a user's file is never lost)."""
    if os.path.lexists(path) and written_by(path) != mark:
        raise UserError(
            f"{what} {str(path)!r} exists and was not written there by this command before; a derived name "
            f"replaces only such a file: {fix}"
        )
