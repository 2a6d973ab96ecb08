"""nst bench, the FLOP count it relies on, and --precision (the fast mode it measures)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    BACKEND_NAMES,
    CPU_DECISIONS,
    REAL_BF16_UNITS,
    get_backend,
    skip_jax_reduced_precision,
    skip_mxnet_bf16_without_units,
)
from helpers import stylize_argv

import cli
from common.core.objective import make_objective
from common.core.recipe import CONTENT_LAYERS, STYLE_LAYERS
from common.jobs import presets
from common.studies import flops, quality
from common.studies.peak import no_peak, peak_child

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("size", [(32, 48), (64, 64)])
def test_the_flop_count_matches_torchs_own_flop_counter(size) -> None:
    ops = get_backend("torch")
    from torch.utils.flop_counter import FlopCounterMode

    rng = np.random.default_rng(0)
    content, style = (ops.to_tensor(rng.integers(0, 256, (*size, 3), dtype=np.uint8)) for _ in range(2))
    objective = make_objective(ops, content, style, CONTENT_LAYERS, STYLE_LAYERS)
    X = content.clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        objective(X)[3].backward()
    counted = flops.step_flops(size, CONTENT_LAYERS, STYLE_LAYERS)["total"]
    assert counter.get_total_flops() == pytest.approx(counted, rel=1e-9)


def test_the_counted_flops_at_300x450_are_those_of_the_environment_notes() -> None:
    f = flops.step_flops((300, 450), CONTENT_LAYERS, STYLE_LAYERS)
    assert (f["conv forward"] + f["conv backward"]) / 1e9 == pytest.approx(193.3, abs=0.1)


def test_bench_writes_a_table_and_json_with_both_backends(every_backend, cpu_with_bf16, tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    code = cli.main(
        [
            "bench",
            "--sizes",
            "32x32",
            "--precisions",
            "fp32,bf16,fp16",
            "--photoreal-sizes",
            "32x32",
            "--warmup",
            "0",
            "--repeats",
            "1",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["peaks"]["fp32"] > 0 and report["peaks"]["bf16"] > 0
    cells = {(c["backend"], c["precision"]): c for c in report["cells"] if c["task"] == "gatys"}
    assert len(cells) == 3 * len(every_backend) and "of peak" in table
    photoreal = {c["backend"]: c for c in report["cells"] if c["task"] == "photoreal"}
    assert set(photoreal) == {ops.name for ops in every_backend} and "HRNet generator" in table
    assert all(c["median"] > 0 and c["size"] == [32, 32] and len(c["times"]) == 1 for c in photoreal.values())
    # A cell's fraction of peak is given only where its precision's peak is real: this test plays a Sapphire Rapids
    # (bf16 and fp16 units) on whatever machine runs it, so the measured peak decides (an emulated one is slower than
    # fp32's). MXNet cannot build a bf16 convolution at all on a CPU without bf16 units (conftest.REAL_BF16_UNITS).
    peaks = report["peaks"]
    for key in [("torch", "fp32"), ("torch", "bf16"), ("torch", "fp16"), ("mxnet", "fp32"), ("mxnet", "bf16")]:
        c = cells[key]
        if key == ("mxnet", "bf16") and REAL_BF16_UNITS is False:
            assert "error" in c and "median" not in c
            continue
        assert c["median"] > 0 and c["gflops"] > 0 and len(c["times"]) == 1
        real = peaks[key[1]] >= peaks["fp32"]
        assert ("fraction_of_peak" in c) is real and ("no_peak" in c) is not real, (key, peaks)
        if not real:
            assert c["no_peak"] == report["no_peak"][key[1]] and f"| {c['no_peak']} |" in table
            assert c["no_peak"].startswith(f"{key[1]} emulated on this CPU (matmul "), c["no_peak"]
    assert "needs a GPU" in cells["mxnet", "fp16"]["error"]


def test_bench_refuses_bad_arguments_in_one_line(capsys) -> None:
    bad = (["--sizes", "32"], ["--precisions", "fp8"], ["--backends", "tensorflow"], ["--repeats", "0"])
    for args in (*bad, ["--photoreal-sizes", "30x32"]):
        assert cli.main(["bench", *args]) == 2
        assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_bench_to_quality_times_the_fast_preset_against_the_recipe(name, tmp_path, capsys) -> None:
    out = tmp_path / "bench.json"
    argv = ["bench", "--backends", name, "--sizes", "32x32", "--precisions", "fp32", "--photoreal-sizes", "none"]
    argv += ["--warmup", "0", "--repeats", "1", "--to-quality", "--quality-size", "64", "96", "--quality-steps", "20"]
    assert cli.main([*argv, "--json", str(out), "--quiet"]) == 0, capsys.readouterr().err
    table = capsys.readouterr().out
    (result,) = json.loads(out.read_text())["to_quality"]
    ref, fast, start = result["reference"], result["fast"], result["start_seconds"]
    assert ref["steps"] == 20 and ref["loss"] > 0
    stages = presets.get("fast").values["stages"]
    assert [st["scale"] for st in fast["stages"]] == [st.scale for st in stages]
    assert fast["fp32"]["steps"] == sum(max(1, st.steps * 20 // 500) for st in stages)  # shortened alike
    assert set(fast) - {"stages"} == {"fp32", quality.fast_recipe(name)["precision"]}
    assert 0 < start < 60 and ref["steps_seconds"] < ref["seconds"]  # whole runs: more than their steps
    for f in (fast[p] for p in fast if p != "stages"):
        assert f["reached"] == (f["loss"] <= ref["loss"])
        assert f["ratio"] == pytest.approx((start + f["seconds"]) / (start + ref["seconds"]))
    assert result["ratio"] == fast["fp32"]["ratio"]
    assert f"| {name} | 64x96 | {start:.1f} | {start + ref['seconds']:.0f} ({ref['loss']:.4g}) |" in table
    assert f"| {fast['fp32']['ratio']:.3f} |" in table and "--preset fast: Adam, " in table


def test_process_age_counts_from_the_interpreter_start() -> None:
    code = "import time; time.sleep(0.6); from common.studies.quality import process_age; print(process_age())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert 0.6 <= float(done.stdout) < 30


def test_bench_on_a_cpu_without_bf16_units_says_why_its_bf16_cells_are_empty(
    every_backend, cpu_without_bf16, tmp_path, capsys
):
    out = tmp_path / "bench.json"
    argv = ["bench", "--sizes", "32x32", "--precisions", "fp32,bf16,fp16", "--photoreal-sizes", "none"]
    assert cli.main([*argv, "--warmup", "0", "--repeats", "1", "--json", str(out), "--quiet"]) == 0, capsys.readouterr()
    report = json.loads(out.read_text())
    cells = {(c["backend"], c["precision"]): c for c in report["cells"]}
    assert len(cells) == 3 * len(every_backend)
    for name in BACKEND_NAMES:
        assert cells[name, "fp32"]["median"] > 0 and "median" not in cells[name, "bf16"]
        assert "needs a CPU with bf16 units (AMX or AVX-512 bf16); this one (Test CPU)" in cells[name, "bf16"]["error"]
    table = capsys.readouterr().out
    assert report["machine"]["cpu"] == "Test CPU" and "this one (Test CPU) has none" in table
    # an AMD EPYC Zen 3 has no fp16 units: torch's fp16 cell runs, and says why it has no fraction of peak
    fp16 = cells["torch", "fp16"]
    assert fp16["median"] > 0 and "fraction_of_peak" not in fp16 and cells["torch", "fp32"]["fraction_of_peak"] > 0
    assert fp16["no_peak"] == "fp16 emulated on this CPU (no fp16 units): no peak" == report["no_peak"]["fp16"]
    assert "| fp16 emulated on this CPU (no fp16 units): no peak |" in table and "(no peak)" in table.splitlines()[0]


def test_a_reduced_precision_peak_is_real_only_with_units_and_at_least_fp32s_speed(cpu_kind) -> None:
    from conftest import CPU_DECISIONS

    slower, faster = {"fp32": 400.0, "bf16": 90.0, "fp16": 90.0}, {"fp32": 400.0, "bf16": 2600.0, "fp16": 2600.0}
    for precision in ("bf16", "fp16"):
        if CPU_DECISIONS[cpu_kind][precision]:  # units, so the measured speed decides
            assert no_peak(precision, slower) == (
                f"{precision} emulated on this CPU (matmul 90 GFLOP/s, below fp32's 400): no peak"
            )
            assert no_peak(precision, faster) is None
        else:  # no units (Zen 3; fp16 on Zen 4): however fast the measured product, it is no peak
            for peaks in (slower, faster):
                assert no_peak(precision, peaks) == f"{precision} emulated on this CPU (no {precision} units): no peak"
    assert no_peak("fp32", slower) is None
    assert no_peak("fp16", faster, "") == "fp16 units unknown (no CPU flags to read): no peak"


def test_a_peak_that_was_not_measured_is_no_peak(cpu_with_bf16) -> None:
    assert no_peak("bf16", {"fp32": 400.0, "bf16": float("nan")}) == "bf16 matmul peak not measured (no torch): no peak"


def test_the_bf16_matmul_peak_stops_at_the_first_size_slower_than_its_time_budget(monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    sizes, mm = [], torch.mm
    monkeypatch.setattr(torch, "mm", lambda a, b: sizes.append(a.shape[0]) or mm(a, b))
    peak = peak_child("fp32", [64, 3000], seconds=1e-6)  # 64 takes longer than 1e-6 s: 3000 never runs
    assert peak > 0 and set(sizes) == {64}


def test_the_fast_recipe_times_bf16_on_torch_and_mxnet_only_where_the_cpu_has_bf16_units(cpu_kind) -> None:
    from conftest import CPU_DECISIONS

    bf16 = "bf16" if CPU_DECISIONS[cpu_kind]["bf16"] else "fp32"  # Sapphire Rapids and Zen 4 bf16, Zen 3 fp32
    assert [quality.fast_recipe(b)["precision"] for b in ("torch", "mxnet", "jax")] == [bf16, bf16, "fp32"]


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_bf16_on_a_cpu_without_bf16_units_is_refused_in_one_line(name, cpu_without_bf16, image_files, tmp_path, capsys):
    get_backend(name)
    out = tmp_path / "o.png"
    argv = [*stylize_argv(name, image_files, out), "--size", "48", "64", "--steps", "2", "--precision", "bf16"]
    assert cli.main([*argv, "--weights", "random", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs a CPU with bf16 units" in err and "use --precision fp32" in err
    assert list(tmp_path.glob("o*")) == []


@pytest.mark.parametrize("precision", ["bf16"])
def test_reduced_precision_stays_close_to_fp32_and_returns_float32(
    precision, backend, cpu_with_bf16, image_files, tmp_path, capsys
):
    skip_mxnet_bf16_without_units(backend.name)
    skip_jax_reduced_precision(backend.name)
    histories = {}
    for p in ("fp32", precision):
        log = tmp_path / f"{p}.json"
        argv = stylize_argv(backend.name, image_files, tmp_path / f"{p}.png", log=log)
        argv += ["--size", "48", "64", "--steps", "5", "--weights", "random", "--precision", p, "--quiet"]
        assert cli.main(argv) == 0, capsys.readouterr().err
        histories[p] = np.array([h["total"] for h in json.loads(log.read_text())["history"]])
    assert np.abs(histories[precision] / histories["fp32"] - 1).max() < 0.02
    X = backend.to_tensor(np.zeros((32, 32, 3), np.uint8))
    features = backend.feature_extractor(backend.vgg19("random", upto="conv2_1"), ["conv2_1"], precision)(X)
    assert backend.to_numpy(features["conv2_1"]).dtype == np.float32


def test_fp16_on_a_cpu_warns_in_torch_and_is_refused_in_mxnet(image_files, tmp_path, capsys, cpu_kind) -> None:
    """torch warns where the CPU has no fp16 units and names the precision that runs fast there (bf16 where it has
    bf16 units, else fp32); on a CPU with fp16 units it says nothing."""
    base = [
        "stylize",
        "--content",
        str(image_files[0]),
        "--style",
        str(image_files[1]),
        "--size",
        "32",
        "32",
        "--steps",
        "1",
        "--weights",
        "random",
        "--precision",
        "fp16",
        "--quiet",
        "--output",
        str(tmp_path / "o.png"),
    ]
    get_backend("torch"), get_backend("mxnet")
    assert cli.main([*base, "--backend", "torch"]) == 0
    err = capsys.readouterr().err
    if CPU_DECISIONS[cpu_kind]["fp16"]:
        assert "meant for GPUs" not in err
    else:
        better = "bf16" if CPU_DECISIONS[cpu_kind]["bf16"] else "fp32"
        assert f"meant for GPUs: a CPU without fp16 matrix units runs it slower than fp32; use {better}\n" in err
    assert cli.main([*base, "--backend", "mxnet"]) == 2
    assert "needs a GPU with MXNet" in capsys.readouterr().err


def test_reduced_precision_is_refused_for_float64(image_files, tmp_path, capsys) -> None:
    assert cli.main(["stylize", "--dtype", "float64", "--precision", "bf16", "--output", str(tmp_path / "o.png")]) == 2
    assert "fast mode of float32 runs" in capsys.readouterr().err


def test_make_objective_really_runs_the_network_in_reduced_precision(backend) -> None:
    """bf16 features differ from fp32 ones by more than float32 rounding (1e-6) and less than bf16's (1e-2)."""
    skip_mxnet_bf16_without_units(backend.name)
    skip_jax_reduced_precision(backend.name)
    rng = np.random.default_rng(0)
    X = backend.to_tensor(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
    feats = {}
    for p in ("fp32", "bf16"):
        objective = make_objective(backend, X, X, [], ["conv2_1"], precision=p)
        feats[p] = backend.to_numpy(objective.extractor(X)["conv2_1"]).astype(np.float64)
    rel = np.abs(feats["bf16"] - feats["fp32"]).max() / np.abs(feats["fp32"]).max()
    assert 1e-4 < rel < 5e-2


def test_make_objective_passes_the_style_blend_on(backend) -> None:
    rng = np.random.default_rng(0)
    X, a, b = (backend.to_tensor(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), "float64") for _ in range(3))
    blended = make_objective(backend, X, [a, b], [], ["conv1_1"], style_blend=(1, 3), dtype="float64")
    only_b = make_objective(backend, X, [a, b], [], ["conv1_1"], style_blend=(0, 1), dtype="float64")
    single_b = make_objective(backend, X, b, [], ["conv1_1"], dtype="float64")
    np.testing.assert_allclose(backend.to_numpy(only_b.styles_Y_gram[0]), backend.to_numpy(single_b.styles_Y_gram[0]))
    assert not np.allclose(backend.to_numpy(blended.styles_Y_gram[0]), backend.to_numpy(single_b.styles_Y_gram[0]))
