"""Memory: the estimate grows linearly with pixels, and a run that would not fit is refused before it starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BACKEND_NAMES

import cli
from common.core import layers
from common.jobs import memory

ROOT = Path(__file__).resolve().parents[1]


def test_activation_bytes_grow_linearly_with_the_pixel_count() -> None:
    small, large = memory.activation_bytes((64, 96)), memory.activation_bytes((128, 192))
    assert large == 4 * small
    assert memory.activation_bytes((64, 96), "float64") == 2 * small
    assert memory.activation_bytes((32, 32), upto=layers.BY_NAME["conv1_1"]) == 64 * 32 * 32 * 4


def test_fit_and_largest_size_invert_each_other() -> None:
    xs = [memory.activation_bytes(s) for s in ((100, 100), (200, 200), (400, 400))]
    base, factor = memory.fit(xs, [1e9 + 1.5 * x for x in xs])
    assert base == pytest.approx(1e9) and factor == pytest.approx(1.5)
    h, w = memory.largest_size(8 * 2**30, base, factor, "float32", aspect=0.75)
    assert abs(h / w - 0.75) < 0.01
    need = memory.MARGIN * (base + factor * memory.activation_bytes((h, w)))
    assert 0.97 * 8 * 2**30 < need <= 8 * 2**30


def test_every_backend_and_mode_has_fitted_coefficients() -> None:
    for backend in BACKEND_NAMES:
        for dtype, precision in (("float32", "fp32"), ("float32", "bf16"), ("float64", "fp32")):
            assert memory.estimate(backend, (300, 450), dtype, precision) > 2**29


def test_the_fitted_model_matches_the_measured_points_it_was_fitted_to() -> None:
    fitted_to = set()
    for name in ("memory_epyc.json", "memory.json"):
        for r in json.loads((ROOT / "benchmarks" / "results" / name).read_text())["results"]:
            key = (r["backend"], r["dtype"], r["precision"])
            if memory.FITTED[key] != pytest.approx((r["base"], r["factor"]), rel=1e-3):
                continue  # measured, but the coefficients come from the other file
            fitted_to.add(key)
            for point in r["points"]:
                estimate = memory.estimate(r["backend"], tuple(point["size"]), r["dtype"], r["precision"])
                assert point["rss"] <= estimate < 1.5 * point["rss"], (name, key, point["size"])
    assert fitted_to == set(memory.FITTED)


def test_available_memory_honours_the_override(monkeypatch) -> None:
    monkeypatch.setenv("NST_MEMORY_LIMIT", str(2**30))
    assert memory.available() <= 2**30


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_a_run_that_does_not_fit_is_refused_with_the_estimate_and_a_size_that_fits(name, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NST_MEMORY_LIMIT", str(4 * 2**30))
    out = tmp_path / "o.png"
    assert cli.main(["stylize", "--backend", name, "--size", "4000", "6000", "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "4000x6000 run needs about" in err and "GiB (estimated)" in err
    assert "--max-side" in err and not out.exists()
    side = int(err.split("--max-side ")[1].split()[0])
    assert memory.estimate(name, (round(side * 2 / 3), side)) <= 4 * 2**30 < memory.estimate(name, (4000, 6000))


def test_the_refusal_comes_before_any_framework_is_loaded(tmp_path) -> None:
    code = (
        "import sys, cli\n"
        f"code = cli.main(['stylize', '--size', '9000', '9000', '--output', {str(tmp_path / 'o.png')!r}])\n"
        "print(code, [m for m in ('torch', 'mxnet') if m in sys.modules])\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NST_MEMORY_LIMIT": str(2**30), "PATH": "/usr/bin:/bin"},
    )
    assert r.stdout.strip() == "2 []", r.stderr


# Runs nst stylize and writes the process's own peak resident memory (VmHWM, kB) to the file named first. Not
# os.wait4's ru_maxrss: Linux counts in it the memory of the process that forked the child (the pytest process,
# 3.8 GiB late in the suite) as it was before the exec; VmHWM belongs to the memory map the exec made.
PEAK_OF_A_RUN = (
    "import sys, cli\n"
    "code = cli.main(sys.argv[2:])\n"
    "status = open('/proc/self/status').read()\n"
    "open(sys.argv[1], 'w').write(status.split('VmHWM:')[1].split()[0])\n"
    "sys.exit(code)\n"
)


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_a_real_runs_peak_memory_is_below_the_estimate_and_within_its_margin(name, tmp_path) -> None:
    """A small real nst stylize in a fresh process: its peak resident memory (VmHWM) is at most the estimate
    nst stylize refuses by, and the estimate is at most MARGIN x (1 + FIT_ERROR) of it: the fit may be above a
    machine's peak by FIT_ERROR (README, "Memory"), then the estimate adds MARGIN."""
    size = (256, 256)
    report = tmp_path / "peak_kb"
    argv = [sys.executable, "-c", PEAK_OF_A_RUN, str(report), "stylize", "--backend", name, "--size", *map(str, size)]
    argv += ["--steps", "2", "--weights", "random", "--quiet", "--output", str(tmp_path / "o.png")]
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    peak = int(report.read_text()) * 1024
    estimate = memory.estimate(name, size)
    assert peak <= estimate <= memory.MARGIN * (1 + memory.FIT_ERROR) * peak, (peak / 2**30, estimate / 2**30)


def test_the_peak_is_the_runs_own_not_the_forking_processs(tmp_path) -> None:
    """The measure above sees the run's memory only: a parent holding 1 GiB more than the run needs does not move
    it (os.wait4's ru_maxrss would report at least the parent's 1 GiB)."""
    import os

    ballast = bytearray(2**30)  # held while the child is started
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1  # touched: resident
    report = tmp_path / "peak_kb"
    argv = [sys.executable, "-c", PEAK_OF_A_RUN, str(report), "--version"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert usage.ru_maxrss * 1024 >= 2**30  # what the old measure saw
    assert int(report.read_text()) * 1024 < 2**29  # the run's own: python and the CLI, far below the parent's
