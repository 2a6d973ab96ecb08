"""Flags do what docs/stylize.md says: a repeated flag never drops a value silently, explicit flags override every
value a preset sets, and nst apply creates its --output-dir."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from conftest import get_backend
from helpers import random_pixels, smooth_image
from PIL import Image
from test_cli import run

import cli
from common import UserError
from common.core import hrnet
from common.jobs import flags, models, presets
from common.jobs.settings import check_method

# Two different valid values of every flag of nst stylize (on/off flags: the two spellings).
TWICE: dict[str, tuple[list[str], list[str]]] = {
    "--preset": (["d2l"], ["d2l-mxnet"]),
    "--backend": (["torch"], ["mxnet"]),
    "--content": (["a.png"], ["b.png"]),
    "--style": (["a.png"], ["b.png", "c.png"]),
    "--style-weights": (["1"], ["2", "3"]),
    "--style-scale": (["0.5"], ["2"]),
    "--style-layer-weights": (["1", "2"], ["3"]),
    "--style-max-side": (["64"], ["128"]),
    "--style-gram": (["per-pixel"], ["sum"]),
    "--output": (["a.png"], ["b.png"]),
    "--size": (["32", "48"], ["64", "96"]),
    "--max-side": (["64"], ["128"]),
    "--min-side": (["64"], ["128"]),
    "--scales": (["0.5,1"], ["1"]),
    "--steps": (["5"], ["6"]),
    "--optimizer": (["adam"], ["sgd"]),
    "--lr": (["0.1"], ["0.2"]),
    "--lr-decay-every": (["5"], ["6"]),
    "--lr-decay-factor": (["0.5"], ["0.6"]),
    "--content-weight": (["1"], ["2"]),
    "--style-weight": (["1"], ["2"]),
    "--tv-weight": (["1"], ["2"]),
    "--content-layers": (["conv1_1"], ["conv2_1"]),
    "--style-layers": (["conv1_1"], ["conv2_1"]),
    "--pooling": (["max"], ["avg"]),
    "--normalize": ([], None),
    "--clamp": ([], None),
    "--init": (["noise"], ["style"]),
    "--preserve-colors": ([], None),
    "--seed": (["1"], ["2"]),
    "--device": (["cpu"], ["cuda:0"]),
    "--weights": (["random"], ["auto"]),
    "--dtype": (["float32"], ["float64"]),
    "--precision": (["fp32"], ["bf16"]),
    "--log": (["a.json"], ["b.json"]),
    "--plot": (["a.png"], ["b.png"]),
    "--save-every": (["2"], ["3"]),
    "--gif": (["a.gif"], ["b.gif"]),
    "--checkpoint": (["a.npz"], ["b.npz"]),
    "--checkpoint-every": (["2"], ["3"]),
    "--resume": (["a.npz"], ["b.npz"]),
    "--save-model": (["a.npz"], ["b.npz"]),
    "--quiet": ([], []),
}
COLLECTED = {"--style", "--style-weights", "--style-layer-weights"}  # lists: a second one adds to the first


def parse(argv: list[str], capsys) -> tuple[int, argparse.Namespace | None, str]:
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0), None, capsys.readouterr().err
    return 0, args, capsys.readouterr().err


def words(flag: str, values: list[str] | None) -> list[str]:
    """A flag and its values; an on/off flag's second spelling is its --no- form."""
    return ["--no-" + flag[2:]] if values is None else [flag, *values]


def test_every_flag_of_stylize_is_in_the_table() -> None:
    assert {names[0] for names, _ in flags.STYLIZE} == set(TWICE)


@pytest.mark.parametrize("flag", sorted(TWICE))
def test_a_flag_given_twice_keeps_both_values_or_is_refused(flag, capsys) -> None:
    first, second = TWICE[flag]
    code, args, err = parse(["stylize", *words(flag, first), *words(flag, second)], capsys)
    setting = flag[2:].replace("-", "_")
    if flag in COLLECTED:
        assert code == 0, err
        expected = tuple(v if flag == "--style" else float(v) for v in first + second)
        assert getattr(flags.settings_from(vars(args)), setting) == expected
    elif flag == "--quiet":
        assert code == 0 and args.quiet is True
    else:
        assert code == 2 and err.count("\n") == 1, err
        shown = flag if second is not None else f"--no-{flag[2:]}"
        assert flag in err and shown in err and ("given twice" in err or "both given" in err), err


@pytest.mark.parametrize("flag", sorted(set(TWICE) - {"--quiet"}))
def test_a_flag_given_twice_with_the_same_value_is_no_conflict(flag, capsys) -> None:
    first, _ = TWICE[flag]
    code, _, err = parse(["stylize", *words(flag, first), *words(flag, first)], capsys)
    assert code == 0, err


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["apply", "m.npz", "a.png", "--output-dir", "x", "--output-dir", "y"], "--output-dir"),
        (["apply", "m.npz", "a.png", "--output-dir", "x", "--backend", "torch", "--backend", "mxnet"], "--backend"),
        (["compare", "--report", "x", "--report", "y"], "--report"),
        (["parity", "--content", "a.png", "--content", "b.png"], "--content"),
        (["parity", "--size", "48", "64", "--size", "32", "32"], "--size"),
        (["bench", "--json", "a.json", "--json", "b.json"], "--json"),
        (["port-guide", "--output", "a.md", "--output", "b.md"], "--output"),
        (["photoreal", "--output", "a.png", "--output", "b.png"], "--output"),
    ],
)
def test_other_commands_refuse_a_repeated_flag_too(argv, flag, capsys) -> None:
    code, _, err = parse(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and f"{flag} given twice" in err, err


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_two_style_flags_use_both_images(name, image_files, tmp_path, capsys) -> None:
    get_backend(name)
    second = tmp_path / "second.png"
    Image.fromarray(random_pixels(40, 30, seed=9)).save(second)
    log = tmp_path / "run.json"
    argv = ["stylize", "--backend", name, "--content", str(image_files[0]), "--style", str(image_files[1])]
    argv += ["--style", str(second), "--output", str(tmp_path / "o.png"), "--log", str(log), "--size", "32", "48"]
    code, _, err = run([*argv, "--steps", "1", "--weights", "random", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads(log.read_text())["settings"]["style"] == [str(image_files[1]), str(second)]


# --- presets yield to explicit flags ---------------------------------------------------------------------------

# An explicit value of each recipe setting, as flag words, with the value the settings must then hold.
EXPLICIT: dict[str, tuple[list[str], object]] = {
    "size": (["--size", "32", "48"], (32, 48)),
    "max_side": (["--max-side", "40"], 40),
    "min_side": (["--min-side", "40"], 40),
    "scales": (["--scales", "0.5,1"], (0.5, 1.0)),
    "steps": (["--steps", "7"], 7),
    "optimizer": (["--optimizer", "sgd"], "sgd"),
    "lr": (["--lr", "0.05"], 0.05),
    "lr_decay_every": (["--lr-decay-every", "7"], 7),
    "lr_decay_factor": (["--lr-decay-factor", "0.5"], 0.5),
    "content_weight": (["--content-weight", "3"], 3.0),
    "style_weight": (["--style-weight", "5"], 5.0),
    "tv_weight": (["--tv-weight", "2"], 2.0),
    "content_layers": (["--content-layers", "conv3_1"], ("conv3_1",)),
    "style_layers": (["--style-layers", "conv1_1,conv2_1"], ("conv1_1", "conv2_1")),
    "style_layer_weights": (None, None),  # one per style layer of the preset: built below
    "style_scale": (["--style-scale", "0.5"], 0.5),
    "style_max_side": (["--style-max-side", "64"], 64),
    "style_gram": (None, None),  # the other way of comparing Gram matrices, built below
    "pooling": (None, None),  # the other pooling, built below
    "normalize": (None, None),
    "clamp": (None, None),
    "init": (None, None),
}
NO_FLAG = {"method", "stages"}  # set by the preset's command (nst photoreal) or replaced by --scales


def explicit(preset: presets.Preset, key: str) -> tuple[list[str], object]:
    """Flag words giving ``key`` a value other than the preset's, and that value."""
    value = preset.values[key]
    if key == "style_layer_weights":
        n = len(preset.values["style_layers"])
        return ["--style-layer-weights", *[str(i + 2) for i in range(n)]], tuple(float(i + 2) for i in range(n))
    if key == "pooling":
        other = "avg" if value == "max" else "max"
        return ["--pooling", other], other
    if key in ("normalize", "clamp"):
        return [f"--{'no-' if value else ''}{key}"], not value
    if key == "style_gram":
        other = "sum" if value == "per-pixel" else "per-pixel"
        return ["--style-gram", other], other
    if key == "init":
        other = "noise" if value != "noise" else "content"
        return ["--init", other], other
    return EXPLICIT[key]


CASES = [(p, k) for p in presets.names() for k in presets.RECIPE if k not in NO_FLAG]


def test_the_matrix_covers_every_recipe_value() -> None:
    assert set(EXPLICIT) | NO_FLAG == set(presets.RECIPE)


@pytest.mark.parametrize("preset,key", CASES, ids=[f"{p}-{k}" for p, k in CASES])
def test_every_explicit_flag_overrides_every_preset_value(preset, key, capsys) -> None:
    """The flag's value is the run's, or the method refuses the flag by name; the preset never makes the
    run fail over a value the user did not give."""
    p = presets.get(preset)
    argv, value = explicit(p, key)
    code, args, err = parse(["stylize", "--preset", preset, *argv], capsys)
    assert code == 0, err
    hrnet_method = p.values["method"] == "hrnet"
    try:
        s = flags.settings_from(vars(args)).validated()
        check_method(s)
    except UserError as e:  # allowed only where the method has no use for the flag, and naming it
        assert argv[0].replace("--no-", "--") in str(e), (preset, key, str(e))
        assert hrnet_method != (key in ("style_max_side", "style_gram")), str(e)  # photoreal-only flags
        return
    if key in ("steps", "lr", "lr_decay_every", "lr_decay_factor"):
        assert {getattr(st, key) for st in s.run_stages()} == {value}
    elif key == "scales":
        assert [st.scale for st in s.run_stages()] == list(value)
    else:
        assert getattr(s, key) == value
    if key in ("size", "max_side", "min_side"):
        assert [k for k in ("size", "max_side", "min_side") if getattr(s, k) is not None] == [key]


def test_style_layers_keep_the_presets_layer_weights_when_they_fit() -> None:
    """photoreal-hrnet's choices say --style-layers relu1_1,... taps the ReLUs: its five layer weights stay."""
    s = flags.settings_from(
        {"preset": "photoreal-hrnet", "style_layers": ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")}
    )
    assert s.validated().style_layer_weights == presets.get("photoreal-hrnet").values["style_layer_weights"]


def test_both_max_side_and_min_side_are_refused_not_one_ignored(capsys) -> None:
    with pytest.raises(UserError, match="--max-side or --min-side, not both"):
        flags.settings_from({"max_side": 64, "min_side": 32}).validated()


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_mastering_pytorch_with_an_explicit_size(name, image_files, tmp_path, capsys) -> None:
    get_backend(name)
    out = tmp_path / "o.png"
    argv = ["stylize", "--backend", name, "--preset", "mastering-pytorch", "--size", "32", "48", "--steps", "2"]
    argv += ["--content", str(image_files[0]), "--style", str(image_files[1]), "--output", str(out)]
    code, _, err = run([*argv, "--weights", "random", "--quiet"], capsys)
    assert code == 0, err
    assert Image.open(out).size == (48, 32)


# --- nst apply --output-dir ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_apply_creates_the_output_folder_with_its_parents(name, tmp_path, capsys) -> None:
    get_backend(name)
    model, photo = tmp_path / "m.npz", tmp_path / "photo.png"
    models.save_model(model, hrnet.random_generator(0), {"dtype": "float32", "normalize": True})
    smooth_image(32, 48).save(photo)
    out = tmp_path / "results" / "today"
    code, _, err = run(["apply", str(model), str(photo), "--output-dir", f"{out}/", "--backend", name], capsys)
    assert code == 0, err
    assert Image.open(out / "photo.png").size == (48, 32)


@pytest.mark.parametrize("problem", ["a bad image", "a file in the way"])
def test_apply_creates_no_folder_when_it_refuses(problem, tmp_path: Path, capsys) -> None:
    model, photo = tmp_path / "m.npz", tmp_path / "photo.png"
    models.save_model(model, hrnet.random_generator(0), {"dtype": "float32", "normalize": True})
    smooth_image(30, 48).save(photo)  # 30 is not divisible by 4: refused
    if problem == "a file in the way":
        smooth_image(32, 48).save(photo)
        (tmp_path / "results").write_text("a file")
    code, _, err = run(["apply", str(model), str(photo), "--output-dir", str(tmp_path / "results" / "today")], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert ("divisible by 4" if problem == "a bad image" else "is a file, not a folder") in err
    assert not (tmp_path / "results").is_dir()
