"""Writing outputs atomically: a temporary file in the target's folder, then a rename over the target.

A failed or interrupted write never leaves a partial file, and never clobbers an existing one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..core.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def check_writable(path: str | os.PathLike, extensions: tuple[str, ...] | None = None, what: str = "output") -> Path:
    """Refuse, before any work is done, an output path that cannot be written; return it as a Path."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{what} {str(p)!r} is a folder; give a file name inside it")
    if extensions is not None and p.suffix.lower() not in extensions:
        raise UserError(
            f"{what} {str(p)!r}: unsupported extension {p.suffix or '(none)'!r}; use one of {', '.join(extensions)}"
        )
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"{what} {str(p)!r}: folder {str(folder)!r} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{what} {str(p)!r}: folder {str(folder)!r} is not writable")
    try:  # os.access answers yes to root even on a read-only file system: try it
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UserError(f"{what} {str(p)!r}: folder {str(folder)!r} is not writable ({e.strerror or e})") from e
    return p


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, on failure delete it."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=target.suffix)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes a private file; outputs get the usual mode
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike, writer: Callable[[str], None], what: str = "output") -> None:
    """Call ``writer(tmp_path)`` and move the result to ``path``; an OS error becomes one UserError line."""
    try:
        with atomic_path(path) as tmp:
            writer(tmp)
    except OSError as e:
        raise UserError(f"could not write {what} {str(path)!r}: {e.strerror or e}") from e


def write_text(path: str | os.PathLike, text: str, what: str = "output") -> None:
    """Write a text file atomically."""

    def writer(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    write_atomic(path, writer, what)
