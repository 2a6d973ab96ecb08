"""Writing outputs atomically: a temporary file in the target's folder, then a rename over the target.

A failed or interrupted write never leaves a partial file, and never clobbers an existing one. An output path that
is a symlink is written through: the file it points to is replaced (atomically, beside it) and the link stays a
link. The temporary name is short (``.nst-TTTTTTTT-XXXXXXXX.tmp.png``: a tag of the target's name, then mkstemp's
random part), so any name the file system can hold can be written, and the leftovers of a write that was killed
are found again by the target's name (``leftover_temporaries``, what ``nst batch`` removes).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..core.errors import UserError
from ..core.files import kind, reason, shown

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
TEMP_PREFIX = ".nst-"
TEMP_RANDOM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")  # mkstemp's 8 random characters


def name_max(folder: str | os.PathLike) -> int:
    """The longest file name, in bytes, the file system of ``folder`` (or of its nearest existing parent) holds."""
    p = Path(os.path.realpath(folder))  # as the kernel finds it: a link, then "..", is the link's target's parent
    while True:
        try:
            return int(os.pathconf(p, "PC_NAME_MAX"))
        except (OSError, ValueError):
            if p.parent == p:
                return 255
            p = p.parent


def check_name_fits(path: str | os.PathLike, what: str = "output") -> None:
    """UserError when the file name of ``path`` is longer than its file system allows."""
    p = Path(path)
    size, most = len(os.fsencode(p.name)), name_max(p.parent)
    if size > most:
        raise UserError(
            f"{what} {shown(p)}: the file name is too long ({size} bytes; this file system holds at most {most}): "
            "choose a shorter name"
        )


def target_of(path: str | os.PathLike, what: str = "output") -> Path:
    """Where writing ``path`` lands: the path itself, or the file a symlink leads to; UserError for a loop."""
    p = Path(path)
    if not p.is_symlink():
        return p
    try:
        os.stat(p)
    except FileNotFoundError:
        pass  # a dangling link: its target is created
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(f"{what} {shown(p)} is a symlink loop (its links lead back to themselves)") from e
        raise
    return Path(os.path.realpath(p))


def missing_folder(folder: Path) -> str:
    """Why a folder that is not there cannot be used: its nearest existing parent is a file, or it is missing."""
    for parent in (folder, *folder.parents):
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                return f"{shown(parent)} is a file, not a folder"
            break
    return f"folder {shown(folder)} does not exist; create it first"


def check_writable(path: str | os.PathLike, extensions: tuple[str, ...] | None = None, what: str = "output") -> Path:
    """Refuse, before any work is done, an output path that cannot be written; return it as a Path."""
    p = Path(path)
    try:
        return _check_writable(p, extensions, what)
    except OSError as e:  # a name or path the file system cannot hold, or a folder it cannot look into
        raise UserError(f"{what} {shown(p)} cannot be written: {reason(e)}") from e


def _check_writable(p: Path, extensions: tuple[str, ...] | None, what: str) -> Path:
    check_name_fits(p, what)
    target = target_of(p, what)
    if target.exists():
        found = kind(target.stat().st_mode)
        if found == "folder":
            raise UserError(f"{what} {shown(p)} is a folder; give a file name inside it")
        if found != "file":
            raise UserError(f"{what} {shown(p)} is a {found}, not a regular file: give a file name to write")
    if extensions is not None and p.suffix.lower() not in extensions:
        raise UserError(
            f"{what} {shown(p)}: unsupported extension {p.suffix or '(none)'!r}; use one of {', '.join(extensions)}"
        )
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"{what} {shown(p)}: {missing_folder(folder)}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{what} {shown(p)}: folder {shown(folder)} is not writable")
    try:  # os.access answers yes to root even on a read-only file system: try it
        fd, probe = tempfile.mkstemp(dir=os.path.realpath(folder), prefix=TEMP_PREFIX, suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UserError(f"{what} {shown(p)}: folder {shown(folder)} is not writable ({e.strerror or e})") from e
    return p


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_affixes(target: Path) -> tuple[str, str]:
    """The start and end of the name of every temporary file ``atomic_path`` writes for ``target`` (beside it);
    mkstemp puts 8 random characters between them."""
    tag = hashlib.sha256(os.fsencode(target.name)).hexdigest()[:8]
    suffix = target.suffix if len(target.suffix) <= 8 else ""  # writers that read the format from the name
    return f"{TEMP_PREFIX}{tag}-", ".tmp" + suffix


def leftover_temporaries(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The temporary files that writes of ``paths`` by ``atomic_path`` left when their process was killed (beside
    each file, or beside a symlink's target); each folder is listed once, whatever the number of files in it."""
    wanted: dict[Path, dict[str, set[str]]] = {}  # folder -> prefix -> suffixes
    for path in paths:
        with contextlib.suppress(UserError, OSError):
            target = target_of(path)
            prefix, suffix = temporary_affixes(target)
            wanted.setdefault(target.parent, {}).setdefault(prefix, set()).add(suffix)
    size, found = len(TEMP_PREFIX) + 9, []  # a prefix is TEMP_PREFIX, the tag (8 characters) and "-"
    for folder, affixes in wanted.items():
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                name = entry.name
                middle, suffix = name[size : size + 8], name[size + 8 :]
                ours = suffix in affixes.get(name[:size], ()) and len(middle) == 8 and set(middle) <= TEMP_RANDOM
                if ours and entry.is_file(follow_symlinks=False):
                    found.append(Path(entry.path))
    return found


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a short temporary path beside ``path`` (beside a symlink's target); on success rename it over that
    file, on failure delete it."""
    target = target_of(path)
    prefix, suffix = temporary_affixes(target)
    # tempfile makes its paths absolute by joining names (os.path.abspath): "link/../a" would become "./a", another
    # folder than the kernel's; the folder's real path is the one the file will be renamed into
    fd, tmp = tempfile.mkstemp(dir=os.path.realpath(target.parent or "."), prefix=prefix, suffix=suffix)
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
        raise UserError(f"could not write {what} {shown(path)}: {e.strerror or e}") from e


def write_npz(path: str | os.PathLike, arrays: dict[str, Any], what: str = "output") -> None:
    """Write numpy arrays as an .npz atomically. The archive is made in memory first: numpy's zip writer, failing
    midway (a full disk), leaves a half-closed archive whose cleanup prints a traceback after the error's line."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()

    def writer(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    write_atomic(path, writer, what)


def write_text(path: str | os.PathLike, text: str, what: str = "output") -> None:
    """Write a text file atomically."""

    def writer(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    write_atomic(path, writer, what)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike, force: bool, owned: frozenset[str], what: str) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path``; on success it takes the place of ``path`` whole, on failure
    it is removed, so ``path`` holds one complete set of files or what it held before, never a mixture.

    An existing ``path`` must be an empty folder, or, with ``force``, a folder holding nothing but ``owned`` names
    (an earlier set of the same files): it is replaced.
    """
    target = target_of(path, what)  # a link to a folder: the folder it leads to is replaced
    check_replaceable(path, target, force, owned, what)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=os.path.realpath(target.parent), prefix=TEMP_PREFIX))
    except OSError as e:
        raise UserError(f"{what} {shown(path)}: cannot create a folder beside it: {reason(e)}") from e
    os.chmod(tmp, 0o777 & ~current_umask())
    try:
        yield tmp
        try:
            os.rename(tmp, target)  # a missing or empty folder is replaced in one step
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            old = Path(tempfile.mkdtemp(dir=os.path.realpath(target.parent), prefix=TEMP_PREFIX))
            os.rename(target, old / "old")
            try:
                os.rename(tmp, target)
            except BaseException:
                os.rename(old / "old", target)
                raise
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_replaceable(path: str | os.PathLike, target: Path, force: bool, owned: frozenset[str], what: str) -> None:
    """UserError unless ``target`` is missing, an empty folder, or (with force) a folder of ``owned`` names only."""
    if target.exists() and not target.is_dir():
        raise UserError(f"{what} {shown(path)} is a file; give a folder")
    here, real = Path(os.path.realpath(os.getcwd())), Path(os.path.realpath(target))
    unmovable = "a mount point" if os.path.ismount(real) else "the current folder" if real == here else None
    if unmovable is None and real in here.parents:
        unmovable = "a folder that holds the current folder"
    if unmovable:
        raise UserError(
            f"{what} {shown(path)} is {unmovable}, which cannot be replaced whole (the files are written beside it "
            "and moved into its place): give a folder inside it"
        )
    names = sorted(os.listdir(target)) if target.is_dir() else []
    listed = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    if names and not force:
        raise UserError(
            f"{what} {shown(path)} already holds files ({listed}): give a new or empty folder, or --force to replace "
            "the earlier report in it"
        )
    foreign = [name for name in names if name not in owned]
    if foreign:
        raise UserError(
            f"{what} {shown(path)} holds files that are not part of a report ({', '.join(foreign[:4])}): --force "
            "replaces only an earlier report; give another folder"
        )


def check_folder(folder: str | os.PathLike, what: str) -> None:
    """Refuse, before any work, an output folder that is not a folder and cannot be created (with its parents)."""
    p = Path(folder)
    try:
        for part in (p, *p.parents):
            check_name_fits(part, what)
            if part.exists() or part.is_symlink():
                if not part.is_dir():
                    raise UserError(f"{what} {shown(folder)}: {shown(part)} is a file, not a folder")
                if not os.access(part, os.W_OK | os.X_OK) and part != p:
                    raise UserError(f"{what} {shown(folder)} cannot be created: {shown(part)} is not writable")
                return
    except OSError as e:
        raise UserError(f"{what} {shown(folder)} cannot be used: {reason(e)}") from e


def make_folder(folder: str | os.PathLike, what: str) -> None:
    """Create an output folder with its parents (as mkdir -p), or UserError in one line."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{what} {shown(folder)} cannot be created: {reason(e)}") from e
