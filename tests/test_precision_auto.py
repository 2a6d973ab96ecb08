"""--precision auto: bf16 where the CPU has bf16 units and the backend runs bf16 on a CPU, else fp32, decided before
any framework loads; proved on the pixels a run writes, not on the record's field."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from conftest import (
    BACKEND_NAMES,
    CPU_DECISIONS,
    get_backend,
    play_cpu_kind,
    skip_mxnet_bf16_without_units,
)
from helpers import stylize_argv

import cli
import common.jobs.gatys
from common.core import precision, registry
from common.jobs import checkpoint, images

RUN = ("--size", "40", "56", "--steps", "3", "--weights", "random", "--quiet")


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_auto_is_bf16_only_on_a_cpu_with_bf16_units_and_a_backend_that_runs_it_there(name, cpu_kind) -> None:
    units = CPU_DECISIONS[cpu_kind]["bf16"]  # Sapphire Rapids and Zen 4 have bf16 units, Zen 3 none
    runs_it = registry.declared(name, "precision")["bf16_on_cpu"]
    chosen, why = precision.auto(name, "cpu")
    assert chosen == ("bf16" if units and runs_it else "fp32")
    assert ("has bf16 units" in why) == (chosen == "bf16")
    assert precision.auto(name, "cuda:0")[0] == "fp32"


def test_auto_is_fp32_where_the_cpus_flags_cannot_be_read(tmp_path, monkeypatch) -> None:
    """bf16 without bf16 units runs about 40x slower than fp32: unknown units are no units."""
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Mystery\n", encoding="utf-8")
    monkeypatch.setenv("NST_CPUINFO", str(info))
    assert precision.auto("torch", "cpu") == ("fp32", "this CPU's flags cannot be read, so its bf16 units are unknown")


def test_only_torch_and_mxnet_run_bf16_on_a_cpu() -> None:
    """JAX refuses bf16 on a CPU (XLA computes its forward pass in float32): auto must never choose it there."""
    assert {name: precision.bf16_on_cpu(name) for name in BACKEND_NAMES} == {
        name: name in ("torch", "mxnet") for name in BACKEND_NAMES
    }


def written(argv: list[str], capsys) -> np.ndarray:
    """The pixels of the image a successful nst stylize run wrote (its --output)."""
    assert cli.main(argv) == 0, capsys.readouterr().err
    return np.asarray(images.load_image(argv[argv.index("--output") + 1]))


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_auto_computes_exactly_what_its_choice_computes(name, image_files, tmp_path, monkeypatch, capsys) -> None:
    """On a CPU played with bf16 units auto writes bf16's image, not fp32's; played without, fp32's (each compared
    on the same played CPU: torch's float32 layout depends on its flags)."""
    get_backend(name)
    skip_mxnet_bf16_without_units(name)
    for kind, chosen in (("sapphire-rapids", "bf16"), ("zen3", "fp32")):
        play_cpu_kind(tmp_path, monkeypatch, kind)
        out = {}
        for p in ("fp32", "bf16", "auto") if kind != "zen3" else ("fp32", "auto"):
            argv = [*stylize_argv(name, image_files, tmp_path / f"{kind}_{p}.png"), *RUN, "--precision", p]
            out[p] = written(argv, capsys)
        assert np.array_equal(out["auto"], out[chosen]), kind
        if "bf16" in out:
            assert not np.array_equal(out["bf16"], out["fp32"])  # the two precisions compute different pixels here


def test_auto_says_what_it_chose_and_why_in_one_line(image_files, tmp_path, cpu_zen4, capsys) -> None:
    get_backend("jax")
    for name, chosen in (("torch", "bf16"), ("jax", "fp32")):  # torch emulates bf16 where the real CPU has no units
        argv = [*stylize_argv(name, image_files, tmp_path / f"{name}.png"), *RUN[:-1], "--precision", "auto"]
        assert cli.main(argv) == 0
        out, err = capsys.readouterr()
        lines = [line for line in err.splitlines() if "--precision auto" in line]
        assert len(lines) == 1 and f"runs {chosen}" in lines[0], lines
        assert f"steps on {name} (bf16) in" in out if chosen == "bf16" else f"steps on {name} in" in out
        assert ("bf16 units" in lines[0]) == (name == "torch")


def interrupted(argv: list[str], monkeypatch) -> None:
    """Run nst stylize, interrupted (SIGINT) during its first step, so its checkpoint holds one step."""
    real = common.jobs.gatys.make_trainer

    def interrupted_after_step_1(*args, **kwargs):
        trainer = real(*args, **kwargs)
        step = trainer.step

        def step_then_signal():
            os.kill(os.getpid(), signal.SIGINT)
            return step()

        trainer.step = step_then_signal
        return trainer

    monkeypatch.setattr(common.jobs.gatys, "make_trainer", interrupted_after_step_1)
    assert cli.main(argv) == 130
    monkeypatch.setattr(common.jobs.gatys, "make_trainer", real)


def test_a_run_made_with_auto_resumes_with_auto(image_files, tmp_path, cpu_with_bf16, capsys, monkeypatch) -> None:
    """The checkpoint holds the precision auto chose; resumed with auto again, the run is not refused and ends on
    exactly the image of an uninterrupted bf16 run."""
    get_backend("torch")
    whole = written([*stylize_argv("torch", image_files, tmp_path / "whole.png"), *RUN, "--precision", "bf16"], capsys)
    ckpt, out = tmp_path / "run.npz", tmp_path / "part.png"
    interrupted(
        [*stylize_argv("torch", image_files, out), *RUN, "--precision", "auto", "--checkpoint", str(ckpt)], monkeypatch
    )
    assert checkpoint.load(ckpt).settings["precision"] == "bf16"
    assert cli.main(["stylize", "--resume", str(ckpt), "--precision", "auto", "--quiet"]) == 0, capsys.readouterr().err
    assert np.array_equal(np.asarray(images.load_image(out)), whole)


def test_a_bf16_checkpoint_resumed_with_auto_on_a_cpu_without_bf16_units_is_refused(
    image_files, tmp_path, capsys, monkeypatch
) -> None:
    """auto chooses fp32 there, which is also what the command gives unasked, so the checkpoint's bf16 stands and
    is refused as bf16 is on such a CPU: one line, the partial image untouched."""
    get_backend("torch")
    play_cpu_kind(tmp_path, monkeypatch, "sapphire-rapids")
    ckpt, out = tmp_path / "run.npz", tmp_path / "part.png"
    interrupted(
        [*stylize_argv("torch", image_files, out), *RUN, "--precision", "auto", "--checkpoint", str(ckpt)], monkeypatch
    )
    capsys.readouterr()
    before = out.read_bytes()
    play_cpu_kind(tmp_path, monkeypatch, "zen3")
    assert cli.main(["stylize", "--resume", str(ckpt), "--precision", "auto", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--precision bf16 needs a CPU with bf16 units" in err, err
    assert "resume it on a CPU with bf16 units, or start again with --precision fp32" in err, err
    assert out.read_bytes() == before


def test_nst_bench_measures_precisions_not_auto(capsys) -> None:
    assert cli.main(["bench", "--backends", "torch", "--precisions", "fp32,auto", "--sizes", "32x32"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'auto' is not one of fp32, bf16, fp16" in err
