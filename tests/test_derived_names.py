"""Files a run writes under names it derives (nobody named them): what such a name may replace.

The rule (docs/what-happens-when.md): a derived name replaces only what the same command wrote there before, so a
rerun works and a user's own file is never lost. A --save-every frame carries a mark naming the output it is a
frame of; an image nst apply writes carries the model and the image it came from; the checkpoint an interrupted run
leaves must be a checkpoint of the same --output. Each is refused up front, in one line, before any framework loads.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from test_cli import run, stylize_args

import cli
from common.jobs import checkpoint, images


def pixels_of(path: Path) -> bytes:
    """A file's bytes."""
    return path.read_bytes()


def test_a_frame_name_taken_by_a_users_file_is_refused_and_a_rerun_replaces_its_own(image_files, tmp_path, capsys):
    out = tmp_path / "out.png"
    argv = stylize_args("torch", image_files, out, "--save-every", "2")  # 6 steps: frames at 2 and 4
    users = tmp_path / "out_step0004.png"
    Image.new("RGB", (8, 8), "red").save(users)
    before = pixels_of(users)
    code, _, err = run(argv, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "out_step0004.png" in err and "was not written there by this command before" in err, err
    assert pixels_of(users) == before and not out.exists() and not (tmp_path / "out_step0002.png").exists()

    users.unlink()
    assert run(argv, capsys)[0] == 0
    frames = [tmp_path / "out_step0002.png", tmp_path / "out_step0004.png"]
    assert all(images.written_by(f) == f"nst --save-every frame of {os.path.realpath(out)}" for f in frames)
    first = [pixels_of(f) for f in frames]
    code, _, err = run(argv, capsys)  # the same command again: its own frames are replaced
    assert code == 0, err
    assert [pixels_of(f) for f in frames] == first  # seeded: the same frames


def test_a_frame_of_another_output_is_not_replaced(image_files, tmp_path, capsys) -> None:
    """A frame another command wrote (a frame of a.png, renamed to b's frame name) is not this command's."""
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run(stylize_args("torch", image_files, a, "--save-every", "2"), capsys)[0] == 0
    os.rename(tmp_path / "a_step0002.png", tmp_path / "b_step0002.png")
    code, _, err = run(stylize_args("torch", image_files, b, "--save-every", "2"), capsys)
    assert code == 2 and "b_step0002.png" in err and not b.exists(), err


def test_a_file_where_an_interruptions_checkpoint_goes_must_be_one_of_this_output(image_files, tmp_path, capsys):
    out = tmp_path / "out.png"
    taken = Path(checkpoint.default_path(str(out)))
    taken.write_bytes(b"the user's own archive")
    code, _, err = run(stylize_args("torch", image_files, out), capsys)
    assert code == 2 and err.count("\n") == 1 and "is no checkpoint of --output" in err and "--checkpoint" in err
    assert taken.read_bytes() == b"the user's own archive" and not out.exists()
    # with --checkpoint named, nothing goes there: the run goes ahead and leaves the file alone
    named = tmp_path / "mine.npz"
    assert run(stylize_args("torch", image_files, out, "--checkpoint", str(named)), capsys)[0] == 0
    assert taken.read_bytes() == b"the user's own archive" and out.exists()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A generator saved by a 2-step nst photoreal."""
    folder = tmp_path_factory.mktemp("model")
    path = folder / "m.npz"
    argv = ["photoreal", "--size", "32", "32", "--steps", "2", "--weights", "random", "--quiet"]
    assert cli.main([*argv, "--output", str(folder / "p.png"), "--save-model", str(path)]) == 0
    return path


def test_nst_apply_never_replaces_a_users_image_in_the_output_folder_but_reruns(model, tmp_path, capsys) -> None:
    """nst apply m.npz imgs/c.jpg --output-dir imgs once replaced the user's imgs/c.png."""
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    Image.new("RGB", (32, 32), "blue").save(imgs / "c.jpg")
    Image.new("RGB", (8, 8), "green").save(imgs / "c.png")
    before = pixels_of(imgs / "c.png")
    argv = ["apply", str(model), str(imgs / "c.jpg"), "--output-dir", str(imgs), "--quiet"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c.png" in err and "was not written there by this command before" in err, err
    assert pixels_of(imgs / "c.png") == before

    (imgs / "c.png").unlink()
    assert cli.main(argv) == 0, capsys.readouterr().err
    first = pixels_of(imgs / "c.png")
    assert cli.main(argv) == 0, capsys.readouterr().err  # the same command again replaces its own result
    assert pixels_of(imgs / "c.png") == first and Image.open(imgs / "c.png").size == (32, 32)


def test_an_output_through_a_link_and_dotdot_is_checked_where_it_is_written(image_files, tmp_path, capsys) -> None:
    """linkdir/../a/o.png: the kernel follows the link, then goes up from where it leads; the folder check once looked
    beside the link instead and refused a writable folder."""
    deep = tmp_path / "x" / "deep"
    deep.mkdir(parents=True)
    (tmp_path / "x" / "a").mkdir()
    (tmp_path / "linkdir").symlink_to(deep, target_is_directory=True)
    out = tmp_path / "linkdir" / ".." / "a" / "o.png"  # written to x/a/o.png; tmp_path/a does not exist
    code, _, err = run(stylize_args("torch", image_files, out), capsys)
    assert code == 0, err
    assert (tmp_path / "x" / "a" / "o.png").exists() and not (tmp_path / "a").exists()
