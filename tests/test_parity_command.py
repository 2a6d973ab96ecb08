"""`nst parity`, the command: another image pair through it, its exit codes, its refusals, the pairs it compares
(its checks, each a test: tests/test_parity.py). A module of its own so that the test runner can run it beside
that one (the suite's workers take a module each)."""

from __future__ import annotations

import json

import pytest
from conftest import BACKEND_NAMES, PAIRS
from test_parity import expected_names

import cli
import common
from common.core import registry
from common.jobs import samples
from common.studies import parity, trajectories


def short_training_rows(monkeypatch) -> None:
    """3 steps instead of 10 in the Gatys training rows (and their envelopes): a test about the command."""
    monkeypatch.setitem(parity.TOLERANCES["float32"], "steps", 3)


@pytest.mark.slow
def test_nst_parity_passes_on_another_image_pair(every_backend, capsys) -> None:
    """scikit-image's astronaut and coffee at 48x64 (the checks fixture runs the bundled pair) through the command:
    JSON, exit 0, every row passes, and each float32 training row within MULTIPLE x its own envelope. The float32
    rows only (--dtype float32, with the float64 runs their envelopes need): the float64 rows, rounding apart, were
    measured on the bundled pair above, and their recipe-rate row always runs on that pair. About a minute."""
    content, style = (samples.sample_path(name) for name in ("astronaut.png", "coffee.png"))
    argv = ["parity", "--content", str(content), "--style", str(style), "--dtype", "float32"]
    code = cli.main([*argv, "--json", "--quiet"])
    report = json.loads(capsys.readouterr().out)
    failed = [f"{c['dtype']}: {c['what']}" for c in report["checks"] if not c["passed"]]
    assert code == 0 and not failed, failed
    assert report["backends"] == list(BACKEND_NAMES) and report["size"] == [48, 64]
    assert report["pairs"] == [list(pair) for pair in PAIRS] and report["not_installed"] == []
    expected = [name for name in expected_names() if name.startswith("float32")]
    assert len(report["checks"]) == len(PAIRS) * len(expected)
    assert all(
        set(c) == {"what", "dtype", "max_abs", "max_rel", "tolerance", "passed", "envelope", "pair"}
        for c in report["checks"]
    )
    for pair in PAIRS:
        rows = [c for c in report["checks"] if c["pair"] == list(pair)]
        got = [f"{c['dtype']}: {c['what']}" for c in rows]
        assert len(got) == len(expected) and all(g.startswith(e) for g, e in zip(got, expected, strict=True))
        training = [c["envelope"] for c in rows if c["envelope"] is not None]
        assert len(training) == 3 and all(t["envelope"] > 0 for t in training)
        assert all("losses of every step" in c["what"] for c in rows if c["envelope"] is not None)
        assert all(max(t[name]["worst_drift_over_allowed"] for name in pair) <= 1 for t in training)


def test_nst_parity_exits_1_when_a_check_fails(every_backend, monkeypatch, capsys) -> None:
    """--dtype float32 --size 32 40 on one pair, with one tolerance no run can meet: exit 1, only float32 rows, the
    last line counts the failure (every training row cut short: this test is about the command)."""
    short_training_rows(monkeypatch)
    monkeypatch.setattr(trajectories, "GENERATOR_STEPS", 3)
    tolerances = {dtype: dict(t) for dtype, t in parity.TOLERANCES.items()}
    tolerances["float32"]["psnr"] = float("inf")  # no two float32 runs of 10 Adam steps are bit-identical
    monkeypatch.setattr(parity, "TOLERANCES", tolerances)
    code = cli.main(["parity", "--dtype", "float32", "--size", "32", "40", "--backends", "torch,mxnet", "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and out.strip().splitlines()[-1].endswith("FAIL")
    assert "  float32 " in out and "  float64 " not in out


@pytest.mark.parametrize(
    "value,fragment",
    [
        ("torch", "name at least two backends"),
        ("torch,torch", "name at least two"),
        ("torch,tf", "unknown backend 'tf'"),
    ],
)
def test_nst_parity_refuses_backends_it_cannot_compare_in_one_line(value: str, fragment: str, capsys) -> None:
    assert cli.main(["parity", "--backends", value, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err


def test_nst_parity_refuses_bad_settings_in_one_line(capsys) -> None:
    assert cli.main(["parity", "--size", "8", "32"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at least 16" in err


MEMOS: list = []


def fake_parity(
    monkeypatch, names: tuple[str, ...], installed: tuple[str, ...], failing: tuple[str, str] | None = None
) -> list[tuple[str, str]]:
    """Play a registry of ``names`` of which ``installed`` are installed, each pair passing two checks (``failing``
    fails its second); the pairs parity.run is called with (and MEMOS: the memo each call was given)."""
    compared = []
    MEMOS.clear()

    def run(a, b, content, style, size, dtypes, seed, progress, memo=None) -> list[parity.Check]:
        compared.append((a.name, b.name))
        MEMOS.append(memo)
        if progress is not None:
            progress("features")
        return [
            parity.Check(f"{a.name} against {b.name}", "float32", 0.0, 0.0, "rel <= 1", True),
            parity.Check("second", "float64", 1.0, 1.0, "rel <= 1", (a.name, b.name) != failing),
        ]

    monkeypatch.setattr(registry, "NAMES", names)
    monkeypatch.setattr(registry, "BACKENDS", {name: (f"{name}lib", name) for name in names})
    monkeypatch.setattr(registry, "is_installed", lambda name: name in installed)
    monkeypatch.setattr(parity, "load_backend", lambda name: type("Fake", (), {"name": name})())
    monkeypatch.setattr(parity, "run", run)
    monkeypatch.setattr(parity.record, "versions", lambda: {})
    return compared


def test_nst_parity_compares_every_pair_of_installed_backends_once_and_names_each(monkeypatch) -> None:
    compared = fake_parity(monkeypatch, ("a", "b", "c", "d"), ("a", "b", "c"))
    said: list[str] = []
    text, passed = parity.command(None, None, (48, 64), "both", 0, False, said.append)
    assert compared == [("a", "b"), ("a", "c"), ("b", "c")] and passed
    assert isinstance(MEMOS[0], dict) and all(m is MEMOS[0] for m in MEMOS)  # a backend's runs made once
    assert said == ["a vs b: features", "a vs c: features", "b vs c: features"]
    assert text.count("what is compared") == 3 and "what is compared (b vs c)" in text
    assert text.splitlines()[-2:] == [
        "3 pairs: 6 of 6 checks pass",
        "d: not compared (its framework, dlib, is not installed)",
    ]
    compared.clear()
    doc = json.loads(parity.command(None, None, (48, 64), "both", 0, True, None)[0])
    assert doc["backends"] == ["a", "b", "c"] and doc["pairs"] == [["a", "b"], ["a", "c"], ["b", "c"]]
    assert [(c["pair"], c["what"]) for c in doc["checks"][::2]] == [([x, y], f"{x} against {y}") for x, y in compared]
    assert doc["not_installed"] == ["d"]


def test_nst_parity_with_backends_compares_just_those(monkeypatch) -> None:
    compared = fake_parity(monkeypatch, ("a", "b", "c", "d"), ("a", "b", "c"))
    doc = json.loads(parity.command(None, None, (48, 64), "both", 0, True, None, "c, a")[0])
    assert compared == [("c", "a")] and doc["pairs"] == [["c", "a"]]
    assert doc["backends"] == ["c", "a"] and doc["not_installed"] == ["d"]  # b was left out by choice


def test_nst_parity_fails_when_a_check_of_any_pair_fails(monkeypatch) -> None:
    fake_parity(monkeypatch, ("a", "b", "c"), ("a", "b", "c"), failing=("b", "c"))
    text, passed = parity.command(None, None, (48, 64), "both", 0, False, None)
    assert not passed and text.splitlines()[-1] == "3 pairs: 5 of 6 checks pass; 1 FAIL"


def test_nst_parity_with_one_pair_prints_just_its_table(monkeypatch) -> None:
    fake_parity(monkeypatch, ("torch", "mxnet"), ("torch", "mxnet"))
    said: list[str] = []
    text, passed = parity.command(None, None, (48, 64), "both", 0, False, said.append)
    assert said == ["features"]
    checks = [
        parity.Check("torch against mxnet", "float32", 0.0, 0.0, "rel <= 1", True),
        parity.Check("second", "float64", 1.0, 1.0, "rel <= 1", True),
    ]
    assert passed and text == parity.table(checks, ("torch", "mxnet"))


def test_nst_parity_with_fewer_than_two_backends_installed_says_what_to_install(monkeypatch) -> None:
    fake_parity(monkeypatch, ("torch", "mxnet"), ("torch",))

    def load(name: str):
        if name == "mxnet":
            raise common.BackendUnavailable("the mxnet backend needs mxnet")
        return type("Fake", (), {"name": name})()

    monkeypatch.setattr(parity, "load_backend", load)
    with pytest.raises(common.BackendUnavailable, match="needs mxnet"):
        parity.command(None, None, (48, 64), "both", 0, False, None)


def test_the_memos_key_names_both_images_pixels_the_size_and_the_seed() -> None:
    """A backend's runs are taken from nst parity's memo only for the same inputs: any other pixel in either image,
    another size or seed is another key."""
    from PIL import Image

    content, style = (Image.new("RGB", (8, 6), color) for color in ("red", "blue"))
    key = parity.inputs_key(content, style, (48, 64), 0)
    assert key == parity.inputs_key(content.copy(), style.copy(), (48, 64), 0)
    other = style.copy()
    other.putpixel((7, 5), (0, 0, 254))
    changed = [(content, other, (48, 64), 0), (style, content, (48, 64), 0), (content, style, (64, 48), 0)]
    assert all(parity.inputs_key(*args) != key for args in [*changed, (content, style, (48, 64), 1)])
