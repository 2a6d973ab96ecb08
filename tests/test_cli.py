"""nst stylize end to end on small images, for both backends; and every bad input of the issue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKEND_NAMES, get_backend
from helpers import smooth_image, stylize_argv
from PIL import Image

import cli

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--size", "32", "48", "--steps", "6", "--weights", "random", "--quiet"]


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def stylize_args(name: str, files: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    return stylize_argv(name, files, out, *SMALL, *extra)


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_stylize_writes_the_image_the_record_and_the_plot(name, image_files, tmp_path: Path, capsys) -> None:
    get_backend(name)
    out, log, plot = tmp_path / "out.png", tmp_path / "run.json", tmp_path / "loss.png"
    code, _, err = run(stylize_args(name, image_files, out, "--log", str(log), "--plot", str(plot)), capsys)
    assert code == 0, err
    assert Image.open(out).size == (48, 32)
    record = json.loads(log.read_text())
    assert set(record) >= {"settings", "versions", "history", "output", "weights", "status"}
    assert record["settings"]["backend"] == name and record["settings"]["size"] == [32, 48]
    assert record["versions"][name] and record["versions"]["python"] and record["versions"]["numpy"]
    assert record["output"] == str(out.resolve()) and record["status"] == "completed"
    assert record["weights"].startswith("random")
    history = record["history"]
    assert [h["step"] for h in history] == [1, 2, 3, 4, 5, 6]
    for h in history:
        assert set(h) >= {"step", "content", "style", "tv", "total", "seconds"}
        assert h["total"] == pytest.approx(h["content"] + h["style"] + h["tv"], rel=1e-5)
    assert history[-1]["total"] < history[0]["total"]
    assert Image.open(plot).format == "PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_both_backends_give_the_same_per_step_losses(both, image_files, tmp_path: Path, capsys) -> None:
    logs = []
    for ops in both:
        log = tmp_path / f"{ops.name}.json"
        args = stylize_args(ops.name, image_files, tmp_path / f"{ops.name}.png", "--log", str(log), "--lr", "0.05")
        assert run(args, capsys)[0] == 0
        logs.append(json.loads(log.read_text())["history"])
    for a, b in zip(*logs, strict=True):
        for k in ("content", "style", "tv", "total"):
            assert a[k] == pytest.approx(b[k], rel=1e-3, abs=0)


def test_float64_runs_agree_across_backends(both, image_files, tmp_path: Path, capsys) -> None:
    logs = []
    for ops in both:
        log = tmp_path / f"{ops.name}.json"
        args = stylize_args(
            ops.name, image_files, tmp_path / f"{ops.name}.png", "--log", str(log), "--dtype", "float64"
        )
        assert run(args, capsys)[0] == 0
        logs.append(json.loads(log.read_text())["history"])
    for a, b in zip(*logs, strict=True):
        assert a["total"] == pytest.approx(b["total"], rel=1e-9, abs=0)


def test_options_reach_the_run(backend, image_files, tmp_path: Path, capsys) -> None:
    out, log = tmp_path / "o.jpg", tmp_path / "r.json"
    args = stylize_args(
        backend.name,
        image_files,
        out,
        "--log",
        str(log),
        "--init",
        "noise",
        "--pooling",
        "avg",
        "--content-layers",
        "relu3_1",
        "--style-layers",
        "0,conv2_1",
        "--lr",
        "0.2",
        "--lr-decay-every",
        "2",
        "--lr-decay-factor",
        "0.5",
        "--content-weight",
        "2",
        "--style-weight",
        "100",
        "--tv-weight",
        "0",
        "--save-every",
        "2",
        "--seed",
        "4",
    )
    assert run(args, capsys)[0] == 0
    record = json.loads(log.read_text())
    s = record["settings"]
    assert s["content_layers"] == ["relu3_1"] and s["style_layers"] == ["conv1_1", "conv2_1"]
    assert s["pooling"] == "avg" and s["init"] == "noise" and s["seed"] == 4
    assert [h["lr"] for h in record["history"]] == [0.2, 0.2, 0.1, 0.1, 0.05, 0.05]
    assert all(h["tv"] == 0 for h in record["history"])
    assert sorted(p.name for p in tmp_path.glob("o_step*.jpg")) == ["o_step0002.jpg", "o_step0004.jpg"]
    assert Image.open(out).format == "JPEG"


def test_the_same_seed_gives_the_same_image(backend, image_files, tmp_path: Path, capsys) -> None:
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        assert run(stylize_args(backend.name, image_files, out, "--init", "noise", "--seed", "9"), capsys)[0] == 0
    assert np.array_equal(np.asarray(Image.open(outs[0])), np.asarray(Image.open(outs[1])))


def test_no_arguments_uses_the_bundled_sample_images(backend, tmp_path: Path, capsys) -> None:
    out = tmp_path / "s.png"
    code, _, err = run(["stylize", "--backend", backend.name, "--output", str(out), *SMALL], capsys)
    assert code == 0, err
    assert Image.open(out).size == (48, 32)


def test_the_progress_bar_shows_losses_and_quiet_hides_it(backend, image_files, tmp_path: Path, capsys) -> None:
    args = stylize_args(backend.name, image_files, tmp_path / "p.png")
    args.remove("--quiet")
    code, out, err = run(args, capsys)
    assert code == 0 and "style=" in err and "wrote" in out
    code, out, err = run(stylize_args(backend.name, image_files, tmp_path / "q.png"), capsys)
    assert code == 0 and out == "" and "style=" not in err


def test_python_cli_py_and_the_installed_nst_both_run(image_files, tmp_path: Path) -> None:
    get_backend("torch")
    nst = Path(sys.executable).with_name("nst")
    for i, command in enumerate([[sys.executable, str(ROOT / "cli.py")], [str(nst)]]):
        out = tmp_path / f"{i}.png"
        args = stylize_args("torch", image_files, out)
        r = subprocess.run(command + args, capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert r.returncode == 0, r.stderr
        assert Image.open(out).size == (48, 32)


# --- bad input: exit code 2, one line on stderr, no traceback, no output file -------------------------------


def _bad_files(tmp: Path) -> dict[str, Path]:
    files = {}
    files["missing"] = tmp / "missing.png"
    files["folder"] = tmp / "a_folder"
    files["folder"].mkdir()
    files["empty"] = tmp / "empty.png"
    files["empty"].write_bytes(b"")
    smooth_image(64, 64).save(tmp / "good.png")
    data = (tmp / "good.png").read_bytes()
    files["truncated png"] = tmp / "trunc.png"
    files["truncated png"].write_bytes(data[: len(data) // 2])
    smooth_image(64, 64).save(tmp / "good.jpg", quality=90)
    data = (tmp / "good.jpg").read_bytes()
    files["truncated jpeg"] = tmp / "trunc.jpg"
    files["truncated jpeg"].write_bytes(data[: len(data) // 2])
    files["text named .jpg"] = tmp / "notes.jpg"
    files["text named .jpg"].write_text("this is not an image\n")
    files["tiny image"] = tmp / "tiny.png"
    smooth_image(10, 40).save(files["tiny image"])
    for side in (1, 8):
        files[f"{side}x{side} image"] = tmp / f"{side}x{side}.png"
        smooth_image(side, side).save(files[f"{side}x{side} image"])
    from test_image_files import bomb_png

    files["decompression bomb"] = bomb_png(tmp / "bomb.png")
    return files


BAD_FILE_CASES = [
    "missing",
    "folder",
    "empty",
    "truncated png",
    "truncated jpeg",
    "text named .jpg",
    "tiny image",
    "1x1 image",
    "8x8 image",
    "decompression bomb",
]
MESSAGES = {
    "missing": "does not exist",
    "folder": "is a folder",
    "empty": "empty file",
    "truncated png": "damaged or truncated",
    "truncated jpeg": "damaged or truncated",
    "text named .jpg": "not an image",
    "tiny image": "at least 16",
    "1x1 image": "is 1x1 pixels; it needs at least 16",
    "8x8 image": "is 8x8 pixels; it needs at least 16",
    "decompression bomb": "refused before decoding",
}


def assert_refused(code: int, err: str, out_path: Path, fragment: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert fragment in err, err
    assert not out_path.exists()


# An --init image is resized to the run's size, so a tiny one is a valid (flat) start; every other case is refused.
FILE_ARGS = [
    (case, which)
    for case in BAD_FILE_CASES
    for which in ("--content", "--style", "--init")
    if not (which == "--init" and "image" in case and "named" not in case)
]


@pytest.mark.parametrize("case,which", FILE_ARGS)
@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_bad_image_files_are_refused(name: str, case: str, which: str, image_files, tmp_path: Path, capsys) -> None:
    bad = _bad_files(tmp_path)[case]
    out = tmp_path / "out.png"
    args = stylize_args(name, image_files, out, "--init", "content")
    args[args.index(which) + 1] = str(bad)
    code, _, err = run(args, capsys)
    assert_refused(code, err, out, MESSAGES[case])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_an_unreadable_file_is_refused(image_files, tmp_path: Path, capsys) -> None:
    locked = tmp_path / "locked.png"
    smooth_image(32, 32).save(locked)
    locked.chmod(0)
    out = tmp_path / "out.png"
    args = stylize_args("torch", image_files, out)
    args[args.index("--content") + 1] = str(locked)
    assert_refused(*run(args, capsys)[::2], out, "permission denied")


NUMERIC = [
    (["--size", "0", "48"], "--size H"),
    (["--size", "32", "-5"], "--size W"),
    (["--size", "8", "48"], "at least 16"),
    (["--size", "32", "abc"], "invalid int value"),
    (["--steps", "0"], "--steps"),
    (["--steps", "-3"], "--steps"),
    (["--steps", "2.5"], "invalid int value"),
    (["--lr", "0"], "--lr must be a positive finite number"),
    (["--lr", "-0.1"], "--lr must be a positive finite number"),
    (["--lr", "nan"], "--lr must be a positive finite number"),
    (["--lr", "inf"], "--lr must be a positive finite number"),
    (["--lr", "fast"], "not a number"),
    (["--lr-decay-every", "0"], "--lr-decay-every"),
    (["--lr-decay-factor", "1.5"], "at most 1"),
    (["--style-weight", "-1"], "--style-weight"),
    (["--tv-weight", "nan"], "--tv-weight"),
    (["--backend", "tensorflow"], f"--backend must be one of {', '.join(BACKEND_NAMES)}, not 'tensorflow'"),
    (["--style-layers", "conv9_9"], "unknown layer 'conv9_9'"),
    (["--content-layers", "40"], "outside VGG-19"),
    (["--pooling", "min"], "invalid choice"),
    (["--weights", "nowhere.pth"], "does not exist"),
    (["--device", "tpu"], "use cpu or cuda:N"),
    (["--device", "cuda:0"], "cuda:0"),
]


@pytest.mark.parametrize("extra,fragment", NUMERIC, ids=[" ".join(e) for e, _ in NUMERIC])
@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_bad_settings_are_refused(name, extra, fragment, image_files, tmp_path: Path, capsys) -> None:
    get_backend(name)
    out = tmp_path / "out.png"
    code, _, err = run(stylize_args(name, image_files, out, *extra), capsys)
    assert_refused(code, err, out, fragment)


def test_cuda_is_refused_on_both_backends_when_there_is_no_gpu(backend, image_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.png"
    code, _, err = run(stylize_args(backend.name, image_files, out, "--device", "cuda:0"), capsys)
    assert_refused(code, err, out, "use --device cpu")


@pytest.mark.parametrize(
    "target,fragment",
    [("no_such_dir/out.png", "does not exist"), (".", "is a folder"), ("out.gif2", "unsupported extension")],
)
@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_bad_output_paths_are_refused_before_any_work(name, target, fragment, image_files, tmp_path, capsys) -> None:
    out = tmp_path / target
    code, _, err = run(stylize_args(name, image_files, out), capsys)
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_a_permission_error_while_reading_is_one_line(image_files, tmp_path: Path, capsys, monkeypatch) -> None:
    """The same case as above, simulated so that it also runs as root."""
    import PIL.Image

    real_open = PIL.Image.open

    def guarded(fp, *args, **kwargs):
        if "locked" in str(fp):
            raise PermissionError(13, "Permission denied", str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", guarded)
    locked = tmp_path / "locked.png"
    smooth_image(32, 32).save(locked)
    out = tmp_path / "out.png"
    args = stylize_args("torch", image_files, out)
    args[args.index("--content") + 1] = str(locked)
    assert_refused(*run(args, capsys)[::2], out, "permission denied")
