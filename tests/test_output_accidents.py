"""Where the outputs go wrong: missing or read-only folders, bad names, a full disk, two runs on one file."""

from __future__ import annotations

import errno
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import BACKEND_NAMES, get_backend
from helpers import smooth_image
from PIL import Image
from test_cli import ROOT, assert_refused, run, stylize_args

BACKENDS = list(BACKEND_NAMES)
OUTPUT_FLAGS = {"--output": ".png", "--log": ".json", "--plot": ".png", "--gif": ".gif", "--checkpoint": ".npz"}


@pytest.mark.parametrize("flag", list(OUTPUT_FLAGS))
@pytest.mark.parametrize("name", BACKENDS)
def test_a_missing_folder_is_refused_before_any_work(name, flag, image_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.png"
    target = tmp_path / "no_such_dir" / f"x{OUTPUT_FLAGS[flag]}"
    if flag == "--output":
        args = stylize_args(name, image_files, target)
    else:
        args = [*stylize_args(name, image_files, out), flag, str(target)]
    code, _, err = run(args, capsys)
    assert_refused(code, err, out, "does not exist; create it first")


@pytest.mark.parametrize("flag", list(OUTPUT_FLAGS))
@pytest.mark.parametrize("name", BACKENDS)
def test_a_path_that_is_a_folder_is_refused(name, flag, image_files, tmp_path: Path, capsys) -> None:
    folder = tmp_path / f"folder{OUTPUT_FLAGS[flag]}"
    folder.mkdir()
    out = tmp_path / "out.png"
    args = stylize_args(name, image_files, folder if flag == "--output" else out)
    if flag != "--output":
        args += [flag, str(folder)]
    code, _, err = run(args, capsys)
    assert_refused(code, err, out, "is a folder; give a file name inside it")


@pytest.mark.parametrize("name", BACKENDS)
def test_an_unsupported_extension_lists_the_supported_ones(name, image_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.pdf"
    code, _, err = run(stylize_args(name, image_files, out), capsys)
    assert_refused(
        code, err, out, "unsupported extension '.pdf'; use one of .png, .jpg, .jpeg, .bmp, .tif, .tiff, .webp"
    )


@pytest.mark.parametrize("name", BACKENDS)
def test_a_read_only_folder_is_refused_before_any_work(name, image_files, tmp_path: Path, capsys, monkeypatch) -> None:
    """Simulated (these tests run as root, who may write anywhere): the folder refuses new files, as a
    read-only mount does even to root. The refusal comes before the framework loads or any step runs."""
    read_only = tmp_path / "ro"
    read_only.mkdir()
    real = tempfile.mkstemp

    def refuse(*args, **kwargs):
        if Path(kwargs.get("dir") or args[2]) == read_only:
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = read_only / "out.png"
    code, _, err = run(stylize_args(name, image_files, out), capsys)
    assert_refused(code, err, out, f"folder {str(read_only)!r} is not writable (Read-only file system)")
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize("what", ["image", "record"])
@pytest.mark.parametrize("name", BACKENDS)
def test_a_full_disk_leaves_no_partial_file_and_the_old_output_intact(
    name, what, image_files, tmp_path: Path, capsys, monkeypatch
) -> None:
    """The disk fills up half-way through writing the result (or the run record): one line, exit 2, no
    temporary file left, and no file that failed to write replaced (the old one stays as it was)."""
    get_backend(name)
    folder = tmp_path / "outputs"
    folder.mkdir()
    out, log = folder / "out.png", folder / "run.json"
    smooth_image(20, 20).save(out)
    log.write_text('{"old": true}\n')
    before = out.read_bytes(), log.read_bytes()

    def half_then_full(f, n: int) -> None:
        f.write(b"\0" * n)
        f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    if what == "image":
        real_save = Image.Image.save

        def save(self, fp, *args, **kwargs):
            if str(fp).endswith(".png") and Path(fp).parent == folder:
                with open(fp, "wb") as f:
                    half_then_full(f, 100)
            return real_save(self, fp, *args, **kwargs)

        monkeypatch.setattr(Image.Image, "save", save)
    else:
        import common.jobs.record

        real_write = common.jobs.record.write_text

        def write_text(path, text, what_=""):
            def writer(tmp: str) -> None:
                with open(tmp, "wb") as f:
                    half_then_full(f, len(text) // 2)

            return common.jobs.outputs.write_atomic(path, writer, "run record")

        monkeypatch.setattr(common.jobs.record, "write_text", write_text)
        assert real_write is not None
    code, _, err = run(stylize_args(name, image_files, out, "--log", str(log), "--steps", "2"), capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    assert log.read_bytes() == before[1]
    if what == "image":
        assert out.read_bytes() == before[0]
    else:  # the result was complete before the record failed: it is kept, whole (the work is not lost)
        assert Image.open(out).size == (48, 32) and Image.open(out).getbbox() is not None
    assert sorted(p.name for p in folder.iterdir()) == ["out.png", "run.json"]


@pytest.mark.parametrize("name", BACKENDS)
def test_two_runs_writing_the_same_output_at_once_both_end_with_a_valid_file(name, image_files, tmp_path) -> None:
    get_backend(name)
    content, style = image_files
    out = tmp_path / "shared" / "out.png"
    out.parent.mkdir()
    argv = [sys.executable, str(ROOT / "cli.py"), "stylize", "--backend", name, "--content", str(content)]
    argv += ["--style", str(style), "--output", str(out), "--size", "32", "48", "--weights", "random", "--quiet"]
    argv += ["--save-every", "1", "--steps", "12"]  # many writes to the same names, interleaved
    procs = [subprocess.Popen([*argv, "--seed", str(seed)], stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    assert Image.open(out).size == (48, 32)
    Image.open(out).load()  # a complete file: decodes to the end
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == ["out.png"] + [f"out_step{k:04d}.png" for k in range(1, 12)]


@pytest.mark.parametrize("failure", ["a missing style image", "a failed write"])
@pytest.mark.parametrize("name", BACKENDS)
def test_a_failed_run_leaves_an_existing_output_untouched(name, failure, image_files, tmp_path, capsys, monkeypatch):
    get_backend(name)
    out = tmp_path / "keep.png"
    smooth_image(20, 20).save(out)
    before = out.read_bytes()
    args = stylize_args(name, image_files, out)
    if failure == "a missing style image":
        args[args.index("--style") + 1] = str(tmp_path / "missing.jpg")
    else:  # the disk fills up while the result is written

        def broken_save(self, fp, *a, **k):
            Path(fp).write_bytes(b"half an image")
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(Image.Image, "save", broken_save)
    assert run(args, capsys)[0] == 2
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
