"""Every numeric flag of nst stylize with zero, negative, NaN, infinite and non-numeric values, on both backends.

A value the flag can take (a zero loss weight, --seed 0, --save-every 0) runs; every other one is refused with
exit 2 and one line that names the flag, before any framework is loaded or any file is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import BACKEND_NAMES, get_backend
from PIL import Image
from test_cli import assert_refused, run, stylize_args

BAD = ("0", "-1", "nan", "inf", "abc")
INT_FLAGS = ["--max-side", "--min-side", "--style-max-side", "--steps", "--lr-decay-every", "--checkpoint-every"]
POSITIVE_FLOATS = ["--lr", "--lr-decay-factor", "--style-scale"]
WEIGHTS = ["--content-weight", "--style-weight", "--tv-weight"]


def expectation(flag: str, value: str) -> str | None:
    """The fragment the error line must hold, or None where the value is valid."""
    if flag in ("--seed", "--save-every") and value == "0":
        return None
    if flag in WEIGHTS and value == "0":
        return None
    if flag in (*INT_FLAGS, "--size", "--seed", "--save-every"):
        if value in ("nan", "inf", "abc"):
            return f"invalid int value: '{value}'"
        return "must be a non-negative integer" if flag in ("--seed", "--save-every") else "must be a positive integer"
    if value == "abc":
        return "not a comma-separated list of numbers" if flag == "--scales" else "not a number"
    if flag in WEIGHTS:
        return f"{flag} must be a finite number >= 0"
    if flag in ("--style-weights", "--style-layer-weights"):
        return "are all zero" if value == "0" else f"{flag} must be a finite number >= 0"
    return f"{flag} must be a positive finite number"


def flag_args(flag: str, value: str) -> list[str]:
    """The command-line words for one flag set to one value."""
    if flag == "--size":
        return ["--size", value, "48"]
    if flag == "--style-layer-weights":
        return [flag, *[value] * 5]
    return [flag, value]


FLAGS = ["--size", *INT_FLAGS, "--seed", "--save-every", *POSITIVE_FLOATS, *WEIGHTS, "--style-weights"]
FLAGS += ["--style-layer-weights", "--scales"]
CASES = [(flag, value) for flag in FLAGS for value in BAD]
REFUSED = [(f, v) for f, v in CASES if expectation(f, v) is not None]
VALID = [(f, v) for f, v in CASES if expectation(f, v) is None]


def test_every_numeric_flag_of_stylize_is_covered() -> None:
    import argparse

    import cli
    from common.jobs import flags

    parser = cli.build_parser()
    stylize = next(a for a in parser._subparsers._actions if a.choices).choices["stylize"]
    numeric = {
        a.option_strings[0]
        for a in stylize._actions
        if a.option_strings and (a.type in (int, flags.number, flags.numbers)) and a.dest != "help"
    }
    assert isinstance(stylize, argparse.ArgumentParser)
    assert numeric == set(FLAGS)


@pytest.mark.parametrize("flag,value", REFUSED, ids=[f"{f} {v}" for f, v in REFUSED])
@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_bad_numbers_are_refused_with_one_line(name, flag, value, image_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.png"
    extra = [] if flag in ("--max-side", "--min-side", "--size") else ["--size", "32", "48"]
    args = stylize_args(name, image_files, out, *flag_args(flag, value))
    if flag in ("--max-side", "--min-side"):  # they replace --size
        i = args.index("--size")
        del args[i : i + 3]
    code, _, err = run(args + extra, capsys)
    assert_refused(code, err, out, expectation(flag, value))


@pytest.mark.parametrize("flag,value", VALID, ids=[f"{f} {v}" for f, v in VALID])
@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_zero_is_a_valid_value_where_it_means_something(name, flag, value, image_files, tmp_path, capsys) -> None:
    get_backend(name)
    out = tmp_path / "out.png"
    code, _, err = run(stylize_args(name, image_files, out, "--steps", "2", *flag_args(flag, value)), capsys)
    assert code == 0, err
    assert np.asarray(Image.open(out)).std() > 1


@pytest.mark.parametrize(
    "extra,fragment",
    [
        (["--style"], "expected at least one argument"),
        (["--style-weights", "1", "2"], "--style-weights has 2 values for 1 style images"),
        (["--style-layer-weights", "1", "2"], "--style-layer-weights has 2 values for 5 style layers"),
        (["--preset", "picasso"], "invalid choice: 'picasso' (choose from 'd2l', 'd2l-2019'"),
        (["--content-layers", "conv6_1"], "unknown layer 'conv6_1'"),
        (["--style-layers", "relu1_3"], "unknown layer 'relu1_3'"),
        (["--content-layers", ""], "empty layer list"),
        (["--scales", ""], "--scales is empty"),
        (["--init", "nowhere.png"], "does not exist"),
        (["--resume", "nowhere.npz"], "nowhere.npz"),
        (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
        (["--precision", "bf16", "--dtype", "float64"], "cannot go with --dtype float64"),
        # an empty value names no file: refused, never read as "not given" (once the bundled sample, or a failure
        # after the whole run)
        (["--style", ""], "--style is empty"),
        (["--log", ""], "--log is empty"),
        (["--plot", ""], "--plot is empty"),
        (["--checkpoint", ""], "--checkpoint is empty"),
        (["--gif", ""], "--gif is empty"),
        (["--init", ""], "--init must be content, noise, style or an image path, not ''"),
        # sizes an image library cannot hold (once an OverflowError traceback)
        (["--style-scale", "1e9"], "a side is at most 16384 pixels: use a smaller --style-scale"),
        (["--max-side", "1000000"], "--max-side is 1000000; a side is at most 16384 pixels"),
        # stages go coarse to fine and end at the result's size (--scales 1,0.5 once wrote a half-size result)
        (["--scales", "1,0.5"], "the last stage must be at scale 1"),
        (["--scales", "0.5,2"], "--scales is 2.0; it is at most 1"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_other_bad_settings_are_refused(name, extra, fragment, image_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.png"
    code, _, err = run(stylize_args(name, image_files, out) + extra, capsys)
    assert_refused(code, err, out, fragment)


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        (("--output", ""), "--output is empty"),  # once a traceback after the whole run
        (("--content", ""), "--content is empty"),  # once the bundled sample, recorded as the current folder
        (("--size", "20000", "20000"), "--size H is 20000; a side is at most 16384 pixels"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_flags_the_common_arguments_give_are_refused_too(given, fragment, image_files, tmp_path, capsys, monkeypatch):
    """The flags stylize_args sets itself, given another value instead."""
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    args = stylize_args("torch", image_files, tmp_path / "out.png")
    at = args.index(given[0])
    args[at : at + len(given)] = given
    code, _, err = run(args, capsys)
    assert code == 2 and err.count("\n") == 1 and fragment in err, err
    assert sorted(tmp_path.iterdir()) == before
