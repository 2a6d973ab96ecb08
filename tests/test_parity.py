"""The two backends are the same program: every check of `nst parity`, each its own test, plus the command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import get_backend

import cli
import common
from common.jobs import images, samples
from common.studies import parity
from common.studies.recipe_rate import RECIPE_STEPS

# nst parity's default inputs: the bundled sample images at 48x64. (On some inputs float32 Adam runs from the
# content image drift further than 1e-3 from exact arithmetic in both backends: tests/test_pitfalls.py.)
SIZE = (48, 64)
CONTENT = images.load_image(samples.sample_path(samples.CONTENT))
STYLE = images.load_image(samples.sample_path(samples.STYLE))


@pytest.fixture(scope="module")
def checks() -> dict[str, parity.Check]:
    """All checks, torch against mxnet, computed once for this module."""
    found = parity.run(get_backend("torch"), get_backend("mxnet"), CONTENT, STYLE, SIZE)
    return {f"{c.dtype}: {c.what}": c for c in found}


def expected_names() -> list[str]:
    names = []
    for dtype, tol in parity.TOLERANCES.items():
        names.append(f"{dtype}: preprocessing")
        layer_names = common.core.layers.NAMES
        names += [f"{dtype}: features {layer} ({p} pooling)" for p in ("max", "avg") for layer in layer_names]
        names += [
            f"{dtype}: {what}"
            for what in (
                "gram",
                "content loss",
                "style loss",
                "TV loss",
                "total loss (d2l layers and weights)",
                "gradient of the total loss w.r.t. the image",
            )
        ]
        names.append(f"{dtype}: HRNet generator: output for the content image")
        names.append(
            f"{dtype}: HRNet generator: {parity.GENERATOR_STEPS} Adam steps (lr {parity.GENERATOR_LR:g}): losses of "
            "every step"
        )
        if dtype == "float64":
            names.append(f"{dtype}: HRNet generator: {RECIPE_STEPS} Adam steps at the recipe's lr 0.005: losses of")
        for init in ("content", "noise"):
            names.append(
                f"{dtype}: {tol['steps']:.0f} Adam steps (lr {tol['lr']:g}) from {init} init: losses of every step"
            )
            names.append(f"{dtype}: {init} init: final 8-bit images")
    return names


def find(checks: dict[str, parity.Check], name: str) -> parity.Check:
    matches = [c for key, c in checks.items() if key.startswith(name)]
    assert len(matches) == 1, f"{name}: {len(matches)} checks"
    return matches[0]


@pytest.mark.parametrize("name", expected_names())
def test_check(checks, name: str) -> None:
    check = find(checks, name)
    assert check.passed, f"{name}: max abs {check.max_abs:.3g}, max rel {check.max_rel:.3g}, need {check.tolerance}"


def test_there_are_no_other_checks(checks) -> None:
    assert len(checks) == len(expected_names())


def test_float64_runs_agree_far_beyond_their_tolerance(checks) -> None:
    """The backends are the same program, not merely close: float64 differences are rounding (1e-15)."""
    for key, check in checks.items():
        if key.startswith("float64") and "PSNR" not in key:
            assert check.max_rel < 1e-12, key


def test_the_step_comparison_treats_two_zeros_as_equal_and_a_zero_against_nonzero_as_different() -> None:
    ha, hb = np.array([[0.0, 1.0]]), np.array([[0.0, 1.0 + 1e-12]])
    assert parity.step_differences(ha, hb)[1] == pytest.approx(1e-12, rel=1e-3)
    assert parity.step_differences(np.array([[1e-12]]), np.array([[0.0]]))[1] == pytest.approx(1e-12)


def test_the_content_loss_at_the_content_image_is_exactly_zero(backend) -> None:
    """MXNet with oneDNN computes different conv outputs in training and inference mode unless handled."""
    history, _ = parity.trajectory(backend, CONTENT, STYLE, SIZE, "float32", "content", 1, 0.05)
    assert history[0, 0] == 0.0


def test_nst_parity_prints_json_and_exits_0(both, image_files, capsys) -> None:
    content, style = image_files
    code = cli.main(
        [
            "parity",
            "--json",
            "--dtype",
            "float32",
            "--size",
            "32",
            "40",
            "--content",
            str(content),
            "--style",
            str(style),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    assert report["backends"] == ["torch", "mxnet"] and report["size"] == [32, 40]
    assert len(report["checks"]) == sum(name.startswith("float32") for name in expected_names())
    row = report["checks"][0]
    assert set(row) == {"what", "dtype", "max_abs", "max_rel", "tolerance", "passed"}


def test_nst_parity_exits_1_when_a_check_fails(both, monkeypatch, capsys) -> None:
    tolerances = {dtype: dict(t) for dtype, t in parity.TOLERANCES.items()}
    tolerances["float32"]["psnr"] = float("inf")  # no two float32 runs of 10 Adam steps are bit-identical
    monkeypatch.setattr(parity, "TOLERANCES", tolerances)
    code = cli.main(["parity", "--dtype", "float32", "--size", "32", "40", "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and out.strip().splitlines()[-1].endswith("FAIL")


def test_nst_parity_refuses_bad_settings_in_one_line(capsys) -> None:
    assert cli.main(["parity", "--size", "8", "32"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at least 16" in err


def test_the_recipe_rate_row_fails_when_one_step_differs_by_more_than_1e_9(monkeypatch) -> None:
    from common.studies import recipe_rate

    runs = {"a": np.ones((recipe_rate.RECIPE_STEPS, 4)), "b": np.ones((recipe_rate.RECIPE_STEPS, 4))}
    runs["b"][-1, 1] += 2e-9  # the last step's style loss
    monkeypatch.setattr(recipe_rate, "recipe_run", lambda ops, *args: runs[ops])
    failed = recipe_rate.recipe_rate_check("a", "b", CONTENT, STYLE, SIZE, 0)
    runs["b"][-1, 1] = 1 + 5e-10
    passed = recipe_rate.recipe_rate_check("a", "b", CONTENT, STYLE, SIZE, 0)
    assert not failed.passed and failed.max_rel == pytest.approx(2e-9) and passed.passed
