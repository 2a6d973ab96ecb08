"""Atomic outputs: the usual file mode, no temporary files left, nothing written on failure."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from common import UserError
from common.jobs import outputs


def test_written_files_get_the_usual_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    outputs.write_text(target, "x")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~outputs.current_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")

    def broken(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        outputs.write_atomic(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_an_os_error_becomes_one_user_error_line(tmp_path: Path) -> None:
    def full(tmp: str) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(UserError, match=r"could not write output .*No space left on device"):
        outputs.write_atomic(tmp_path / "a.txt", full)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(UserError, match="not writable"):
        outputs.check_writable(folder / "a.png", outputs.IMAGE_EXTENSIONS)
