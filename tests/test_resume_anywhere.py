"""A checkpoint remembers where its run's files are: `nst stylize --resume X` from any folder finishes exactly the
files the interrupted run promised, reads its inputs where they were, and knows an input by any of its names."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import numpy as np
import pytest
from helpers import random_pixels, smooth_image
from PIL import Image, ImageSequence
from test_cli import run
from test_resume import interrupt_after

import cli

SMALL = ["--size", "32", "48", "--steps", "6", "--weights", "random", "--quiet"]


def make_inputs(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    smooth_image(48, 64, seed=1).save(folder / "content.png")
    Image.fromarray(random_pixels(40, 40, seed=2)).save(folder / "style.png")


def relative_job(backend: str) -> list[str]:
    """A job whose every path is relative to the current folder."""
    return ["stylize", "--backend", backend, "--content", "content.png", "--style", "style.png", "--output", "out.png"]


OUTPUTS = ["--log", "run.json", "--plot", "loss.png", "--gif", "anim.gif", "--save-every", "2"]


def pixels(path: Path) -> bytes:
    return np.asarray(Image.open(path)).tobytes()


def losses(log: Path) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in json.loads(log.read_text())["history"]]


def interrupted_in(folder: Path, backend, monkeypatch, capsys, *extra: str) -> str:
    """Run the relative job in folder, stopped after 2 steps; the command the message says to continue with."""
    monkeypatch.chdir(folder)
    with interrupt_after(monkeypatch, 2):
        assert cli.main([*relative_job(backend.name), *SMALL, *OUTPUTS, *extra]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "continue with: nst stylize --resume " in err, err
    return err.strip().split("continue with: ", 1)[1]


def test_resume_as_printed_from_another_folder_finishes_the_promised_files(backend, tmp_path, monkeypatch, capsys):
    whole, parts, elsewhere = tmp_path / "whole", tmp_path / "parts", tmp_path / "elsewhere"
    for folder in (whole, parts):
        make_inputs(folder)
    elsewhere.mkdir()
    monkeypatch.chdir(whole)
    assert cli.main([*relative_job(backend.name), *SMALL, *OUTPUTS]) == 0
    command = interrupted_in(parts, backend, monkeypatch, capsys)
    words = shlex.split(command)
    assert words[:3] == ["nst", "stylize", "--resume"] and Path(words[3]) == parts / "out.ckpt.npz"
    for name in ("run.json", "loss.png", "anim.gif"):  # the resumed run must write these again, in parts/
        (parts / name).unlink()
    monkeypatch.chdir(elsewhere)
    code, _, err = run(words[1:], capsys)
    assert code == 0, err
    assert list(elsewhere.iterdir()) == []  # nothing written where the command was run
    assert pixels(parts / "out.png") == pixels(whole / "out.png")
    assert losses(parts / "run.json") == losses(whole / "run.json")
    assert json.loads((parts / "run.json").read_text())["status"] == "completed"
    assert Image.open(parts / "loss.png").format == "PNG"
    assert gif_frames(parts / "anim.gif") == gif_frames(whole / "anim.gif")  # the frames before the interrupt too
    assert sorted(p.name for p in parts.glob("out_step*.png")) == ["out_step0002.png", "out_step0004.png"]


def gif_frames(path: Path) -> list[bytes]:
    """Every frame of a GIF, as RGB bytes (once a resumed run's --gif held only the frames after the resume)."""
    with Image.open(path) as gif:
        return [frame.convert("RGB").tobytes() for frame in ImageSequence.Iterator(gif)]


def test_inputs_by_another_spelling_are_the_same_inputs(backend, tmp_path, monkeypatch, capsys) -> None:
    parts = tmp_path / "parts"
    make_inputs(parts)
    command = interrupted_in(parts, backend, monkeypatch, capsys)
    monkeypatch.chdir(tmp_path)
    link = tmp_path / "content-link.png"
    link.symlink_to(parts / "content.png")
    again = ["--content", str(parts / ".." / "parts" / "content.png"), "--style", "parts/style.png"]
    code, _, err = run([*shlex.split(command)[1:], *again], capsys)
    assert code == 0, err
    code, _, err = run([*shlex.split(command)[1:], "--content", str(link)], capsys)
    assert code == 0, err


def test_output_flags_given_at_resume_win_and_are_relative_to_the_current_folder(
    backend, tmp_path, monkeypatch, capsys
):
    parts, elsewhere = tmp_path / "parts", tmp_path / "elsewhere"
    make_inputs(parts)
    elsewhere.mkdir()
    command = interrupted_in(parts, backend, monkeypatch, capsys)
    interrupted = pixels(parts / "out.png")
    monkeypatch.chdir(elsewhere)
    code, _, err = run([*shlex.split(command)[1:], "--output", "new.png", "--log", "new.json"], capsys)
    assert code == 0, err
    # the new output, its record and its --save-every frames (named after the output) are here
    assert sorted(p.name for p in elsewhere.iterdir()) == ["new.json", "new.png", "new_step0004.png"]
    assert pixels(parts / "out.png") == interrupted  # the old output is left as it was
    assert len(json.loads((elsewhere / "new.json").read_text())["history"]) == 6


def test_a_checkpoint_holds_absolute_paths_and_fingerprints_by_resolved_file(backend, tmp_path, monkeypatch, capsys):
    from common.jobs import checkpoint

    parts = tmp_path / "parts"
    make_inputs(parts)
    interrupted_in(parts, backend, monkeypatch, capsys)
    ckpt = checkpoint.load(parts / "out.ckpt.npz")
    s = ckpt.settings
    assert s["content"] == str(parts / "content.png") and s["style"] == [str(parts / "style.png")]
    for key in ("output", "log", "plot", "gif"):
        assert os.path.isabs(s[key]) and Path(s[key]).parent == parts, key
    assert set(ckpt.fingerprints) == {str(parts / "content.png"), str(parts / "style.png")}


def test_an_old_checkpoint_with_relative_paths_still_resumes_from_its_folder(tmp_path, monkeypatch, capsys) -> None:
    """Format 1 (before this change) held the paths as given and fingerprints keyed by them: it resumes, as it
    did, from the folder it was made in."""
    from conftest import get_backend

    backend = get_backend("torch")
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    for folder in (whole, parts):
        make_inputs(folder)
    monkeypatch.chdir(whole)
    assert cli.main([*relative_job("torch"), *SMALL, "--log", "run.json"]) == 0
    interrupted_in(parts, backend, monkeypatch, capsys)
    path = parts / "out.ckpt.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].tobytes().decode())
    header["format"] = 1
    relative = {"content": "content.png", "style": ["style.png"], "output": "out.png", "log": "run.json"}
    header["settings"].update(relative, plot=None, gif=None, save_every=0)
    header["fingerprints"] = {name: header["fingerprints"][str(parts / name)] for name in ("content.png", "style.png")}
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    monkeypatch.chdir(parts)
    code, _, err = run(["stylize", "--resume", "out.ckpt.npz"], capsys)
    assert code == 0, err
    assert pixels(parts / "out.png") == pixels(whole / "out.png")


@pytest.mark.parametrize("spelling", ["relative", "absolute"])
def test_the_printed_command_quotes_a_path_with_spaces(spelling, tmp_path, monkeypatch, capsys) -> None:
    from conftest import get_backend

    backend = get_backend("torch")
    parts = tmp_path / "my runs"
    make_inputs(parts)
    command = interrupted_in(parts, backend, monkeypatch, capsys)
    words = shlex.split(command)
    assert len(words) == 4 and Path(words[3]) == parts / "out.ckpt.npz"
    if spelling == "absolute":
        monkeypatch.chdir("/")
    assert run(words[1:], capsys)[0] == 0
