"""Memory: the estimate grows linearly with pixels, and a run that would not fit is refused before it starts; each
backend's coefficients are its own (backends/<name>/memory.toml, which benchmarks/memory.py writes)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from conftest import BACKEND_NAMES
from PIL import Image

import cli
from common.core import layers, registry
from common.core.errors import UserError
from common.jobs import memory

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = [registry.BACKENDS[name][0] for name in BACKEND_NAMES]


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


MODES = [("gatys", "float32", "fp32"), ("gatys", "float32", "bf16"), ("gatys", "float64", "fp32")]
MODES += [("hrnet", "float32", "fp32"), ("hrnet", "float64", "fp32")]  # photoreal: fp32 only (precision is Gatys')


def test_every_backend_and_mode_has_fitted_coefficients() -> None:
    for backend in BACKEND_NAMES:
        for method, dtype, precision in MODES:
            assert memory.estimate(backend, (300, 450), dtype, precision, method=method) > 2**29


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_the_fitted_model_matches_the_measured_points_it_was_fitted_to(backend: str) -> None:
    """Each of the backend's fits is the fit of that backend's own measurements in the results file it names, and
    its estimate covers each measured point."""
    for fit in memory.fits(backend):
        saved = json.loads((ROOT / fit["results"]).read_text())
        assert saved["machine"]["cpu"] == fit["cpu"]
        method, dtype, precision = memory.mode_of(fit)
        (r,) = [r for r in saved["results"] if (r["backend"], *memory.mode_of(r)) == (backend, *memory.mode_of(fit))]
        got = memory.coefficients(backend, dtype, precision, method)
        assert got == pytest.approx((r["base"], r["factor"]), rel=1e-3), (backend, method, dtype, precision)
        for point in r["points"]:
            estimate = memory.estimate(backend, tuple(point["size"]), dtype, precision, method=method)
            assert point["rss"] <= estimate < 1.5 * point["rss"], (fit["results"], method, dtype, point["size"])
    assert set(memory.fitted()) == {
        (backend, *memory.mode_of(f)) for backend in BACKEND_NAMES for f in memory.fits(backend)
    }


def load_benchmark():
    """benchmarks/memory.py as a module."""
    spec = importlib.util.spec_from_file_location("memory_benchmark", ROOT / "benchmarks" / "memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_writes_a_measured_modes_fit_where_the_backend_keeps_it(tmp_path: Path) -> None:
    """A mode measured again replaces its fit, rounded to 4 digits, naming its results and CPU; the others stay."""
    bench = load_benchmark()
    name = BACKEND_NAMES[-1]
    shutil.copy(memory.fit_file(name), tmp_path / f"{name}.toml")
    before = tomllib.loads((tmp_path / f"{name}.toml").read_text())["fit"]
    result = {"backend": name, "dtype": "float32", "precision": "fp32", "base": 123456789.0, "factor": 1.234567}
    bench.write_fits([result], str(tmp_path / "r.json"), {"cpu": "Test CPU"}, lambda n: tmp_path / f"{n}.toml")
    text = (tmp_path / f"{name}.toml").read_text()
    after = tomllib.loads(text)["fit"]
    assert memory.fit_file(name) == registry.backend_folder(name) / "memory.toml" and text.startswith("# Peak memory")
    assert [memory.mode_of(f) for f in after] == [memory.mode_of(f) for f in before]
    for old, new in zip(before, after, strict=True):
        if memory.mode_of(new) != ("gatys", "float32", "fp32"):
            assert new == old
        else:
            assert (new["base"], new["factor"], new["cpu"]) == (1.235e8, 1.235, "Test CPU")
            assert new["results"] == str(tmp_path / "r.json")


def test_a_written_fit_is_rounded_up_so_it_never_estimates_below_the_fit() -> None:
    """4 significant digits, rounded up: 1.23441e8 is written 1.235e8, not 1.234e8 (below the measured point the
    fit was raised to cover)."""
    bench = load_benchmark()
    fit = {"dtype": "float32", "precision": "fp32", "base": 1.23441e8, "factor": 1.77612, "results": "r", "cpu": "c"}
    written = tomllib.loads(bench.fit_table(fit))["fit"][0]
    assert (written["base"], written["factor"]) == (1.235e8, 1.777)
    for value in (1.0, 0.0012344, 5.023e8, 987654321.0, 2.0000001):
        assert value <= bench.round_up(value) < value * 1.001


def test_the_fit_covers_every_measured_peak_within_the_margin_where_a_least_squares_line_cannot() -> None:
    """A peak that grows more slowly at large sizes than at small ones: the least-squares line, raised to cover
    every point, overestimates the smallest by 1.7x; the covering fit keeps every estimate within [1, 1.5) of its
    peak (it is the line through two of the points, raised)."""
    bench = load_benchmark()
    sizes = ((0.037, 0.4), (0.148, 0.7), (0.5, 1.55), (0.89, 2.2), (1.78, 3.3))  # GiB of activations, GiB of peak
    points = [{"activations": a * 2**30, "rss": r * 2**30} for a, r in sizes]
    xs, ys = [p["activations"] for p in points], [p["rss"] for p in points]

    def ratios(base: float, factor: float) -> list[float]:
        return [memory.MARGIN * (base + factor * x) / y for x, y in zip(xs, ys, strict=True)]

    base, factor = memory.fit(xs, ys)
    base = max(base, *(y / memory.MARGIN - factor * x for x, y in zip(xs, ys, strict=True)))
    assert max(ratios(base, factor)) > 1.65
    got = ratios(*bench.covering_fit(points))
    assert min(got) >= 1 - 1e-9 and max(got) < 1.4, got


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
        f"print(code, [m for m in {FRAMEWORKS!r} if m in sys.modules])\n"
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


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_a_real_runs_peak_memory_is_below_the_estimate_and_within_its_margin(name, tmp_path) -> None:
    """A small real nst stylize in a fresh process: its peak resident memory (VmHWM) is at most the estimate
    nst stylize refuses by, and the estimate is at most MARGIN x (1 + FIT_ERROR) of it: the fit may be above a
    machine's peak by FIT_ERROR (docs/speed.md, "Memory"), then the estimate adds MARGIN."""
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


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_a_photoreal_run_that_does_not_fit_is_refused_before_any_framework_loads(name, tmp_path) -> None:
    """nst photoreal once skipped the memory check: under 1 GiB a 320x480 run was accepted and peaked at 2.4 GB (under
    1 GiB now no size fits: the base of torch alone is more; under 2 GiB a smaller --max-side does)."""
    code = (
        "import sys, cli\n"
        f"code = cli.main(['photoreal', '--backend', {name!r}, '--size', '320', '480', '--steps', '2', '--output', "
        f"{str(tmp_path / 'o.png')!r}])\n"
        f"print(code, [m for m in {FRAMEWORKS!r} if m in sys.modules])\n"
    )
    env = {"NST_MEMORY_LIMIT": "2G", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert r.stdout.strip() == "2 []", r.stderr
    assert r.stderr.count("\n") == 1 and "a 320x480 run needs about" in r.stderr and "--max-side" in r.stderr
    need = memory.estimate(name, (320, 480), method="hrnet")
    assert need > memory.estimate(name, (320, 480)) and need > 2**30  # the generator's training needs more


def planned(*argv: str):
    """The plan nst stylize makes of ARGV (framework-free: every refusal, the memory check among them)."""
    from common.jobs import flags, stylize

    s = flags.settings_from(vars(cli.build_parser().parse_args(["stylize", *argv])))
    return stylize.plan(s, say=lambda line: None)


def test_the_style_images_size_counts_in_the_gatys_estimate(image_files, tmp_path, monkeypatch) -> None:
    """VGG-19 runs on each style image at its --style-scale size too: a run whose style image is the largest is
    refused by that size (once 1.68 GB were accepted under 1.2G)."""
    content, style = image_files
    Image.new("RGB", (400, 400)).save(style)
    argv = ["--content", str(content), "--style", str(style), "--size", "128", "128"]
    argv += ["--output", str(tmp_path / "o.png")]
    small, large = (memory.estimate("torch", (n, n)) for n in (128, 384))
    monkeypatch.setenv("NST_MEMORY_LIMIT", str(int((small + large) / 2)))
    assert planned(*argv).size == (128, 128)  # the style at the content's size fits
    with pytest.raises(UserError, match=r"a 384x384 run needs about"):
        planned(*argv, "--style-scale", "3")
