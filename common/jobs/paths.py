"""Which files a run reads and writes, compared as files, not as strings, and made absolute for its checkpoint.

Two paths name the same file when they resolve to the same place (relative or absolute spellings, `..`,
symlinks: ``os.path.realpath``) or when they are the same existing file (hard links: device and inode). No output
of a run may be one of its inputs, nor another of its outputs.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from ..core.errors import UserError
from ..core.files import shown
from .settings import SPECS, Role, Settings, path_settings
from .values import KeywordOrPath

Named = tuple[str, str]  # (the flag that names a file, its path)
OUTPUT_PATHS = path_settings(Role.OUTPUT)  # output, log, plot, gif, checkpoint, save_model
# Outputs derived from another flag, and the flag to change to move them.
FIX = {"--save-every": "--output", "the checkpoint an interruption writes": "--checkpoint"}


def keys(path: str | os.PathLike) -> list[object]:
    """What identifies the file a path names: its resolved path and, if it exists, its device and inode."""
    found: list[object] = []
    try:
        found.append(os.path.realpath(path))
        st = os.stat(path)
        found.append((st.st_dev, st.st_ino))
    except (OSError, ValueError):  # not there (yet), or not a name the system can look up: the string stands
        pass
    return found or [os.fspath(path)]


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file."""
    return bool(set(keys(a)) & set(keys(b)))


def check_distinct(
    inputs: Iterable[Named], outputs: Iterable[Named], allowed: Collection[tuple[str, str]] = ()
) -> None:
    """UserError in one line, naming both flags, when an output is an input or another output.

    ``allowed`` holds (output flag, input flag) pairs that may be one file (a checkpoint rewriting the one it
    resumed from).
    """
    seen: dict[object, tuple[str, str, bool]] = {}
    for flag, path in inputs:
        for key in keys(path):
            seen.setdefault(key, (flag, path, True))
    for flag, path in outputs:
        for key in keys(path):
            if key not in seen:
                continue
            other, other_path, is_input = seen[key]
            if is_input and (flag, other) not in allowed:
                raise UserError(
                    f"{flag} {shown(path)} is the same file as the input {other} {shown(other_path)}: a run never "
                    f"writes over its inputs; choose another {FIX.get(flag, flag)}"
                )
            if not is_input:
                raise UserError(
                    f"{flag} {shown(path)} and {other} {shown(other_path)} are the same file: give each output its "
                    "own name"
                )
        for key in keys(path):
            seen.setdefault(key, (flag, path, False))


def is_path(setting: str, value: str | None) -> bool:
    """Whether a setting's value names a file (not a keyword such as --init noise or --weights random)."""
    kind = SPECS[setting].kind
    return kind.is_path(value) if isinstance(kind, KeywordOrPath) else bool(value)


def absolute(value: str | None) -> str | None:
    """A path made absolute against the current folder, kept as spelled otherwise (`..` and links stay: they
    mean what they meant here); None stays None."""
    return None if value is None else str(Path(value).absolute())


def absolute_paths(s: Settings) -> Settings:
    """Settings with every file path absolute, so that they mean the same files from any folder."""
    changes = {name: absolute(getattr(s, name)) for name in (*OUTPUT_PATHS, "resume")}
    for name in path_settings(Role.INPUT):
        value = getattr(s, name)
        if isinstance(value, tuple):
            changes[name] = tuple(absolute(p) for p in value)
        elif is_path(name, value):
            changes[name] = absolute(value)
    return s.replace(**changes)


def same_inputs(setting: str, now: object, then: object) -> bool:
    """Whether two values of an input setting name the same files (a path by any spelling is the same path)."""
    if setting not in path_settings(Role.INPUT):
        return now == then
    if isinstance(now, tuple) and isinstance(then, tuple):
        return len(now) == len(then) and all(same_file(a, b) for a, b in zip(now, then, strict=True))
    if is_path(setting, now) and is_path(setting, then):
        return same_file(now, then)
    return now == then


def is_within(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether a path lies inside a folder (both resolved)."""
    inner, outer = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([inner, outer]) == outer


def named(flag: str, paths: Sequence[str | None]) -> list[Named]:
    """(flag, path) for each path given."""
    return [(flag, p) for p in paths if p]
