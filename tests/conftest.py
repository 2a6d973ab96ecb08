"""Shared fixtures: backends (required ones fail rather than skip), small images and image files."""

from __future__ import annotations

import os

# Tests import torch in places before the torch backend does; the backend's reproducibility setting
# (MKL_CBWR, read when MKL loads) must be in place before any of them.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
from pathlib import Path

import pytest
from helpers import random_pixels, smooth_image
from PIL import Image
from xdist_groups import pytest_xdist_make_scheduler  # noqa: F401  (the hook: pytest finds it here)

import common

BACKEND_NAMES = common.core.registry.NAMES  # the one list of backends
# CI sets NST_REQUIRED_BACKENDS=torch,mxnet: a backend listed here that cannot be imported fails every test
# that uses it, so a broken install can never hide behind a skip.
REQUIRED = {name.strip() for name in os.environ.get("NST_REQUIRED_BACKENDS", "").split(",") if name.strip()}

_loaded: dict[str, common.Backend] = {}


def get_backend(name: str) -> common.Backend:
    """The backend, loaded once per session; fail if it is required and will not import, else skip."""
    if name not in _loaded:
        try:
            _loaded[name] = common.load_backend(name)
        except common.BackendUnavailable as e:
            if name in REQUIRED:
                pytest.fail(f"backend {name} is required (NST_REQUIRED_BACKENDS) but will not import: {e}")
            pytest.skip(f"backend {name} not installed: {e}")
    return _loaded[name]


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> common.Backend:
    """Each backend in turn."""
    return get_backend(request.param)


@pytest.fixture
def both() -> tuple[common.Backend, common.Backend]:
    """The torch and the MXNet backend, for cross-backend comparisons."""
    return get_backend("torch"), get_backend("mxnet")


@pytest.fixture
def image_files(tmp_path: Path) -> tuple[Path, Path]:
    """A content and a style image file, 48x64 and 40x40."""
    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    smooth_image(48, 64, seed=1).save(content)
    Image.fromarray(random_pixels(40, 40, seed=2)).save(style, quality=95)
    return content, style


# What this machine's CPU really has, before any test plays another CPU: MXNet 1.9's oneDNN has no bf16
# convolution without AVX-512 ("could not create a primitive descriptor"), so its bf16 path cannot run here.
REAL_CPUINFO = common.core.cpu.cpuinfo()
REAL_BF16_UNITS, REAL_CPU = common.core.cpu.bf16_units(REAL_CPUINFO), common.core.cpu.model(REAL_CPUINFO)


def skip_without_avx512(what: str) -> None:
    """Skip a test of oneDNN behaviour seen on an AVX-512 Xeon and not on an AVX2-only CPU (other kernels there)."""
    flags = common.core.cpu.flags(REAL_CPUINFO)
    if flags is not None and "avx512f" not in flags:
        pytest.skip(f"{what}: seen with oneDNN's AVX-512 kernels; this CPU ({REAL_CPU}) has no AVX-512")


def skip_mxnet_bf16_without_units(name: str) -> None:
    """Skip an MXNet bf16 test on a CPU without bf16 units, where MXNet cannot build a bf16 convolution."""
    if name == "mxnet" and REAL_BF16_UNITS is False:
        pytest.skip(f"MXNet's oneDNN has no bf16 convolution on this CPU ({REAL_CPU}: no AVX-512 bf16)")


def play_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: str) -> None:
    """Make this process and its children read a /proc/cpuinfo with these flags (common.cpu, $NST_CPUINFO)."""
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: {flags}\n", encoding="utf-8")
    monkeypatch.setenv("NST_CPUINFO", str(info))


@pytest.fixture
def cpu_with_bf16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU with AMX bf16 units, whatever this machine has: the bf16 path runs (slowly where it is emulated)."""
    play_cpu(tmp_path, monkeypatch, "fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile")


@pytest.fixture
def cpu_without_bf16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CPU with AVX2 and no bf16 units, whatever this machine has."""
    play_cpu(tmp_path, monkeypatch, "fpu sse avx avx2 fma")
