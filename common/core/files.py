"""What a path is, asked of the file system without opening it: an input file is checked before it is read, so
that a symlink loop, a FIFO, a socket or a device gets one line saying what it is (and a FIFO is never waited on).
"""

from __future__ import annotations

import errno
import os
import stat

from .errors import UserError

KINDS = (
    (stat.S_ISDIR, "folder"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)
REASONS = {
    errno.ELOOP: "it is a symlink loop (its links lead back to themselves)",
    errno.ENAMETOOLONG: "its name is too long for the file system",
    errno.ENOTDIR: "a part of its path is a file, not a folder",
    errno.EACCES: "permission denied",
}


def kind(mode: int) -> str:
    """'file', 'folder', 'FIFO (named pipe)', 'socket', 'character device' or 'block device'."""
    for test, name in KINDS:
        if test(mode):
            return name
    return "file"


def shown(path: str | os.PathLike) -> str:
    """A path as a message quotes it; a very long one shortened in the middle so the line stays readable."""
    text = os.fsdecode(path)
    return repr(text if len(text) <= 120 else f"{text[:50]}...{text[-50:]}")


def reason(e: OSError) -> str:
    """Why an OSError happened, in words a user acts on."""
    return REASONS.get(e.errno, e.strerror or str(e))


def check_input_file(path: str | os.PathLike, what: str, noun: str = "a file") -> os.stat_result:
    """The stat of a regular file to read, or UserError in one line naming what the path is instead."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            raise UserError(f"{what} {shown(p)} is a symlink to {os.readlink(p)!r}, which does not exist") from None
        raise UserError(f"{what} {shown(p)} does not exist") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(f"{what} {shown(p)} is a symlink loop (its links lead back to themselves)") from e
        raise UserError(f"{what} {shown(p)} cannot be read: {reason(e)}") from e
    found = kind(st.st_mode)
    if found == "folder":
        raise UserError(f"{what} {shown(p)} is a folder, not {noun}")
    if found != "file":
        raise UserError(f"{what} {shown(p)} is a {found}, not a regular file: give {noun}")
    return st
