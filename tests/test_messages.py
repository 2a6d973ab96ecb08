"""Every bad input gets one line that names the real problem and a fix that works, never a traceback: symlink
loops, FIFOs, sockets and devices (never opened, so never waited on), a file where a folder should be, names the
file system cannot hold, NST_MEMORY_LIMIT, an extreme aspect ratio, nst --version and a bare nst."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import get_backend
from helpers import set_flag, smooth_image
from PIL import Image
from test_cli import ROOT, assert_refused, run, stylize_args

from common import UserError
from common.jobs import memory

BACKENDS = ["torch", "mxnet"]


@pytest.fixture
def special_files(tmp_path: Path):
    """A symlink loop, a FIFO, a socket, a character device and a broken symlink, by name; the socket is closed
    and a writer that unblocks a stuck reader of the FIFO after 20 s is stopped at the end."""
    loop = tmp_path / "loop.png"
    loop.symlink_to(tmp_path / "loop2.png")
    (tmp_path / "loop2.png").symlink_to(loop)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock.png"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    broken = tmp_path / "broken.png"
    broken.symlink_to(tmp_path / "gone.png")
    done = threading.Event()

    def unblock() -> None:  # if the code under test opened the FIFO, it waits for a writer: give it one, late
        if not done.wait(20):
            with open(fifo, "wb"):
                pass

    threading.Thread(target=unblock, daemon=True).start()
    yield {
        "symlink loop": (loop, "is a symlink loop"),
        "FIFO": (fifo, "is a FIFO (named pipe), not a regular file"),
        "socket": (sock_path, "is a socket, not a regular file"),
        "device": (Path("/dev/null"), "is a character device, not a regular file"),
        "broken symlink": (broken, "is a symlink to"),
    }
    done.set()
    sock.close()


KINDS = ["symlink loop", "FIFO", "socket", "device", "broken symlink"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("which", ["--content", "--style", "--init", "--weights", "--resume"])
@pytest.mark.parametrize("name", BACKENDS)
def test_an_input_that_is_no_regular_file_says_what_it_is(
    name, which, kind, special_files, image_files, tmp_path, capsys
):
    path, fragment = special_files[kind]
    out = tmp_path / "out.png"
    args = set_flag(stylize_args(name, image_files, out), which, str(path))
    started = time.monotonic()
    code, _, err = run(args, capsys)
    assert time.monotonic() - started < 10, "blocked on the file"
    assert_refused(code, err, out, fragment)
    if kind == "broken symlink":
        assert "gone.png" in err and "which does not exist" in err


@pytest.mark.parametrize("kind", ["symlink loop", "FIFO", "device"])
def test_other_commands_never_open_such_a_file(kind, special_files, tmp_path, capsys) -> None:
    path, fragment = special_files[kind]
    (tmp_path / "out").mkdir()
    for argv in (
        ["apply", str(path), str(path), "--output-dir", str(tmp_path / "out")],
        ["convert-weights", str(path), str(tmp_path / "w.params")],
        ["parity", "--content", str(path), "--quiet"],
    ):
        started = time.monotonic()
        code, _, err = run(argv, capsys)
        assert time.monotonic() - started < 10, f"blocked on the file: {argv}"
        assert code == 2 and err.count("\n") == 1 and fragment in err, (argv, err)


@pytest.mark.parametrize("kind", ["symlink loop", "FIFO", "socket", "device"])
@pytest.mark.parametrize("name", BACKENDS)
def test_an_output_that_is_no_regular_file_is_refused(name, kind, special_files, image_files, capsys) -> None:
    path, fragment = special_files[kind]
    code, _, err = run(stylize_args(name, image_files, path), capsys)
    assert code == 2 and err.count("\n") == 1 and fragment.split(",")[0] in err, err
    assert path.is_symlink() if kind == "symlink loop" else not path.is_file()


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("name", BACKENDS)
def test_a_file_where_a_folder_should_be_is_named(name, depth, image_files, tmp_path, capsys) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    out = afile / "out.png" if depth == 1 else afile / "sub" / "out.png"
    for flag in ("--output", "--log"):
        path = out if flag == "--output" else out.with_suffix(".json")
        args = set_flag(stylize_args(name, image_files, tmp_path / "o.png"), flag, str(path))
        code, _, err = run(args, capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert f"{str(afile)!r} is a file, not a folder" in err and "does not exist" not in err, err


# --- names the file system cannot hold --------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKENDS)
def test_a_254_character_output_name_works(name, image_files, tmp_path, capsys) -> None:
    get_backend(name)
    out = tmp_path / ("x" * 250 + ".png")
    code, _, err = run(
        stylize_args(name, image_files, out, "--steps", "2", "--log", str(tmp_path / ("y" * 249 + ".json"))), capsys
    )
    assert code == 0, err
    assert Image.open(out).size == (48, 32)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("flag", ["--output", "--log", "--content", "--init"])
@pytest.mark.parametrize("name", BACKENDS)
def test_a_300_character_name_is_refused_in_one_line(name, flag, image_files, tmp_path, capsys) -> None:
    long = tmp_path / ("x" * 296 + {"--log": ".json"}.get(flag, ".png"))
    out = tmp_path / "out.png"
    args = set_flag(stylize_args(name, image_files, out), flag, str(long))
    code, _, err = run(args, capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert ("too long" in err and "255" in err) or "too long for the file system" in err, err
    assert not out.exists()


@pytest.mark.parametrize("name", BACKENDS)
def test_save_every_frame_names_that_do_not_fit_are_refused(name, image_files, tmp_path, capsys) -> None:
    out = tmp_path / ("x" * 250 + ".png")  # fits; x..x_step0002.png does not
    code, _, err = run(stylize_args(name, image_files, out, "--save-every", "2"), capsys)
    assert_refused(code, err, out, "--save-every")
    assert "too long" in err


def test_the_checkpoint_an_interruption_writes_fits_beside_a_long_output(tmp_path) -> None:
    from common.jobs import checkpoint

    path = Path(checkpoint.default_path(tmp_path / ("x" * 250 + ".png")))
    assert path.parent == tmp_path and path.name == "x" * 246 + ".ckpt.npz"
    path.write_bytes(b"")  # the file system holds it
    assert checkpoint.default_path(tmp_path / "out.png") == str(tmp_path / "out.ckpt.npz")


def test_a_path_longer_than_the_system_allows_is_one_line(image_files, tmp_path, capsys) -> None:
    deep = tmp_path.joinpath(*["d" * 200] * 25, "out.png")  # over PATH_MAX (4096 bytes)
    code, _, err = run(stylize_args("torch", image_files, deep), capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err


# --- NST_MEMORY_LIMIT ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1073741824", 2**30),
        ("512M", 512 * 2**20),
        ("1G", 2**30),
        ("1g", 2**30),
        ("1.5GiB", 3 * 2**29),
        ("2 GiB", 2**31),
        ("1T", 2**40),
        ("64K", 2**16),
        ("1KB", 1000),
        ("2.5GB", 2_500_000_000),
        ("3MB", 3_000_000),
        ("1e9", 10**9),
        ("100B", 100),
    ],
)
def test_memory_limits_are_byte_counts_with_the_usual_suffixes(text, expected) -> None:
    assert memory.parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["abc", "-1G", "0", "0G", "1X", "1.5.2G", "G", "nan", "inf", "1 G B"])
def test_other_memory_limits_are_refused_naming_the_variable(text) -> None:
    with pytest.raises(UserError, match="NST_MEMORY_LIMIT") as caught:
        memory.parse_bytes(text)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("limit,fragment", [("abc", "NST_MEMORY_LIMIT='abc'"), ("1K", "GiB are available")])
@pytest.mark.parametrize("name", BACKENDS)
def test_nst_memory_limit_is_read_in_one_line(
    name, limit, fragment, image_files, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("NST_MEMORY_LIMIT", limit)
    out = tmp_path / "out.png"
    assert_refused(*run(stylize_args(name, image_files, out), capsys)[::2], out, fragment)


@pytest.mark.parametrize("name", BACKENDS)
def test_a_large_memory_limit_with_a_suffix_lets_the_run_go(name, image_files, tmp_path, capsys, monkeypatch) -> None:
    get_backend(name)
    monkeypatch.setenv("NST_MEMORY_LIMIT", "64GiB")
    code, _, err = run(stylize_args(name, image_files, tmp_path / "out.png", "--steps", "1"), capsys)
    assert code == 0, err


# --- sizes and aspect ratios ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BACKENDS)
def test_an_extreme_aspect_with_max_side_names_the_problem_and_a_fix_that_works(name, tmp_path, capsys) -> None:
    get_backend(name)
    strip, style = tmp_path / "strip.png", tmp_path / "style.png"
    smooth_image(20, 800).save(strip)  # 40:1
    smooth_image(40, 40, seed=2).save(style)
    out = tmp_path / "out.png"
    base = ["stylize", "--backend", name, "--content", str(strip), "--style", str(style), "--output", str(out)]
    base += ["--steps", "1", "--weights", "random", "--quiet"]
    code, _, err = run([*base, "--max-side", "64"], capsys)
    assert_refused(code, err, out, "--max-side 64 makes the 20x800 content image (height x width) 2x64")
    assert "--size" not in err and "--min-side 16" in err, err
    code, _, err = run([*base, "--min-side", "16"], capsys)  # the fix it names
    assert code == 0, err
    assert Image.open(out).size == (640, 16)


@pytest.mark.parametrize("name", BACKENDS)
def test_a_squashed_content_image_is_warned_about_and_the_run_goes_on(name, image_files, tmp_path, capsys) -> None:
    get_backend(name)
    out = tmp_path / "out.png"
    code, _, err = run(stylize_args(name, image_files, out, "--size", "32", "200", "--steps", "1"), capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "48x64" in warnings[0] and "32x200" in warnings[0] and "--max-side" in warnings[0]
    assert Image.open(out).size == (200, 32)
    code, _, err = run(stylize_args(name, image_files, out, "--size", "32", "48", "--steps", "1"), capsys)
    assert code == 0 and "squash" not in err, err  # 4:3 content into 3:2: within 2x, no word


def test_photoreal_warns_about_a_squashed_content_image_too(image_files, tmp_path, capsys) -> None:
    get_backend("mxnet")
    args = ["photoreal", "--backend", "mxnet", "--content", str(image_files[0]), "--style", str(image_files[1])]
    args += [
        "--size",
        "32",
        "128",
        "--steps",
        "1",
        "--weights",
        "random",
        "--quiet",
        "--output",
        str(tmp_path / "o.png"),
    ]
    code, _, err = run(args, capsys)
    assert code == 0 and err.count("squash") == 1, err


# --- the command itself ------------------------------------------------------------------------------------------


def project_version() -> str:
    import re

    text = (ROOT / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, flags=re.M).group(1)


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_version(flag) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), flag], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == f"nst {project_version()}\n" and r.stderr == "", r


def test_bare_nst_prints_its_usage_to_stderr() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "cli.py")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == "", r
    assert r.stderr.startswith("usage: nst") and "stylize" in r.stderr
