"""No run writes over one of its inputs or over another of its outputs, however the path is spelled.

Every output (--output, --log, --plot, --gif, --checkpoint, the --save-every frames, the checkpoint an
interruption writes, --save-model, nst apply's and nst convert-weights' files) is compared with every input and
every other output as a resolved file: relative and absolute spellings, `..`, symlinks and hard links. A clash is
refused with exit 2 and one line naming both flags, before a backend is loaded; the files stay as they were.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import smooth_image
from PIL import Image
from test_cli import run, stylize_args

import cli
import common
from common.core import hrnet
from common.jobs import models

BACKENDS = ["torch", "mxnet"]


@pytest.fixture
def no_backend(monkeypatch) -> None:
    """A refusal must come before any backend is loaded: loading one fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a backend was loaded before the refusal")

    for module in (common.jobs.job, common.jobs.apply, common.jobs.convert):
        monkeypatch.setattr(module, "load_backend", refuse)


def refused(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder and its bytes (symlinks as their target's name)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p)] = os.readlink(p).encode()
        elif p.is_file():
            out[str(p)] = p.read_bytes()
    return out


def same_file_spellings(tmp_path: Path, target: Path) -> dict[str, Path]:
    """Other names of ``target``: with `..`, a symlink, a hard link, and relative to the current folder."""
    sub = tmp_path / "sub"
    sub.mkdir(exist_ok=True)
    link, hard = tmp_path / "link.png", tmp_path / "hard.png"
    link.symlink_to(target)
    os.link(target, hard)
    return {
        "same string": target,
        "dot-dot": sub / ".." / target.name,
        "symlink": link,
        "hard link": hard,
        "relative": Path(os.path.relpath(target)),
    }


@pytest.mark.parametrize("spelling", ["same string", "dot-dot", "symlink", "hard link", "relative"])
@pytest.mark.parametrize("which", ["--content", "--style", "--init"])
@pytest.mark.parametrize("name", BACKENDS)
def test_output_over_an_input_is_refused(name, which, spelling, tmp_path, capsys, monkeypatch, no_backend) -> None:
    monkeypatch.chdir(tmp_path)
    content, style, start = tmp_path / "content.png", tmp_path / "style.png", tmp_path / "start.png"
    for seed, path in enumerate((content, style, start)):
        smooth_image(48, 64, seed=seed).save(path)
    target = {"--content": content, "--style": style, "--init": start}[which]
    out = same_file_spellings(tmp_path, target)[spelling]
    before = snapshot(tmp_path)
    args = stylize_args(name, (content, style), out, "--init", str(start))
    code, _, err = run(args, capsys)
    refused(code, err, "--output", which, "never writes over its inputs")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", BACKENDS)
def test_the_plot_over_the_output_is_refused(name, image_files, tmp_path, capsys, no_backend) -> None:
    out = tmp_path / "out.png"
    code, _, err = run(stylize_args(name, image_files, out, "--plot", str(tmp_path / "." / "out.png")), capsys)
    refused(code, err, "--plot", "--output", "are the same file")
    assert not out.exists()


@pytest.mark.parametrize("name", BACKENDS)
def test_a_log_symlinked_to_the_checkpoint_is_refused(name, image_files, tmp_path, capsys, no_backend) -> None:
    log = tmp_path / "run.json"
    log.symlink_to(tmp_path / "state.npz")
    args = stylize_args(
        name, image_files, tmp_path / "o.png", "--log", str(log), "--checkpoint", str(tmp_path / "state.npz")
    )
    refused(*run(args, capsys)[::2], "--checkpoint", "--log", "are the same file")


@pytest.mark.parametrize("name", BACKENDS)
def test_a_save_every_frame_over_an_input_or_an_output_is_refused(name, tmp_path, capsys, no_backend) -> None:
    content, style = tmp_path / "o_step0004.png", tmp_path / "style.png"
    smooth_image(48, 64).save(content)
    smooth_image(40, 40, seed=2).save(style)
    before = content.read_bytes()
    args = stylize_args(name, (content, style), tmp_path / "o.png", "--save-every", "2")
    refused(*run(args, capsys)[::2], "--save-every", "--content", str(content))
    assert content.read_bytes() == before
    args = stylize_args(name, (style, style), tmp_path / "o.png", "--save-every", "2", "--plot", str(content))
    refused(*run(args, capsys)[::2], "--save-every", "--plot", "are the same file")
    # a frame the run does not write (step 6 is the last: it goes to --output) is no clash: the run goes on
    plot = str(tmp_path / "o_step0006.png")
    args = stylize_args(name, (style, style), tmp_path / "o.png", "--save-every", "3", "--plot", plot)
    with pytest.raises(AssertionError, match="a backend was loaded"):
        cli.main(args)


@pytest.mark.parametrize("name", BACKENDS)
def test_the_checkpoint_an_interruption_writes_may_not_be_an_input(name, image_files, tmp_path, capsys, no_backend):
    """Without --checkpoint an interrupted run writes out.ckpt.npz beside the output: never over an input (here an
    --init image that happens to have that name; PIL reads images by their content, not their name)."""
    start = tmp_path / "out.ckpt.npz"
    smooth_image(48, 64).save(start, format="PNG")
    before = start.read_bytes()
    args = stylize_args(name, image_files, tmp_path / "out.png", "--init", str(start))
    refused(*run(args, capsys)[::2], "--init", "interruption", "--checkpoint")
    assert start.read_bytes() == before


@pytest.mark.parametrize("name", BACKENDS)
def test_photoreal_outputs_over_inputs_are_refused(name, image_files, tmp_path, capsys, no_backend) -> None:
    content = tmp_path / "content.png"
    smooth_image(32, 32).save(content)
    before = content.read_bytes()
    args = ["photoreal", "--backend", name, "--content", str(content), "--style", str(image_files[1])]
    args += ["--size", "32", "32", "--steps", "1", "--weights", "random", "--quiet"]
    refused(*run([*args, "--output", str(tmp_path / ".." / tmp_path.name / "content.png")], capsys)[::2], "--content")
    plot = tmp_path / "plot.png"
    refused(*run([*args, "--output", str(plot), "--plot", str(plot)], capsys)[::2], "--plot", "--output")
    model = tmp_path / "model.npz"
    model.symlink_to(tmp_path / "result.png")
    code, _, err = run([*args, "--output", str(tmp_path / "result.png"), "--save-model", str(model)], capsys)
    refused(code, err, "--save-model", "--output")
    assert content.read_bytes() == before


@pytest.mark.parametrize("link", ["symlink", "hard link"])
@pytest.mark.parametrize("name", BACKENDS)
def test_nst_apply_never_writes_over_an_input(name, link, tmp_path, capsys, no_backend) -> None:
    model = tmp_path / "m.npz"
    models.save_model(model, hrnet.random_generator(0), {"dtype": "float32", "normalize": True})
    photo, other = tmp_path / "photo.png", tmp_path / "other.png"
    smooth_image(32, 32).save(photo)
    smooth_image(32, 48, seed=3).save(other)
    out = tmp_path / "out"
    out.mkdir()
    if link == "symlink":  # out/other.png leads to photo.png: writing it would overwrite another input
        (out / "other.png").symlink_to(photo)
    else:
        os.link(photo, out / "other.png")
    before = snapshot(tmp_path)
    code, _, err = run(
        ["apply", str(model), str(photo), str(other), "--output-dir", str(out), "--backend", name], capsys
    )
    refused(code, err, "--output-dir", "IMAGE", "never writes over its inputs")
    assert snapshot(tmp_path) == before


def test_nst_convert_weights_refuses_a_hard_linked_destination(tmp_path, capsys, no_backend) -> None:
    src = tmp_path / "w.pth"
    src.write_bytes(b"PK\x03\x04 not really weights")
    dst = tmp_path / "w.params"
    os.link(src, dst)
    code = cli.main(["convert-weights", str(src), str(dst)])
    refused(code, capsys.readouterr().err, "same file")
    assert src.read_bytes() == b"PK\x03\x04 not really weights"


@pytest.mark.parametrize("name", BACKENDS)
def test_resuming_into_its_own_checkpoint_is_no_clash(name, image_files, tmp_path, capsys) -> None:
    """--resume c.npz --checkpoint c.npz is how a checkpointed run goes on: the checkpoint is read before the run
    and rewritten as the run goes; that is the one output allowed to be an input."""
    from conftest import get_backend

    get_backend(name)
    ckpt, out = tmp_path / "c.npz", tmp_path / "o.png"
    args = stylize_args(name, image_files, out, "--checkpoint", str(ckpt), "--checkpoint-every", "2")
    assert run(args, capsys)[0] == 0
    code, _, err = run(["stylize", "--resume", str(ckpt), "--checkpoint", str(ckpt), "--quiet"], capsys)
    assert code == 0, err
    assert np.asarray(common.jobs.checkpoint.load(ckpt).trainer["param.0"]).size > 0


@pytest.mark.parametrize("name", BACKENDS)
def test_an_output_that_is_a_symlink_writes_the_file_it_points_to(name, image_files, tmp_path, capsys) -> None:
    """The link stays a link; the file it leads to is replaced atomically (a temporary file beside it), and a
    link to a file that is not there yet creates that file."""
    from conftest import get_backend

    get_backend(name)
    real = tmp_path / "real"
    real.mkdir()
    target = real / "result.png"
    smooth_image(20, 20).save(target)
    link, dangling = tmp_path / "out.png", tmp_path / "run.json"
    link.symlink_to(target)
    dangling.symlink_to(real / "run.json")
    code, _, err = run(stylize_args(name, image_files, link, "--log", str(dangling)), capsys)
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert dangling.is_symlink() and (real / "run.json").is_file()
    assert Image.open(target).size == (48, 32)
    assert json.loads((real / "run.json").read_text())["status"] == "completed"
    assert [p.name for p in (*real.iterdir(), *tmp_path.iterdir()) if p.name.startswith(".")] == []
