"""Installed, the project is one package, nst: no generic top-level names, and the nst command works anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def run_elsewhere(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run Python in a folder outside the checkout, so only what is installed can be imported."""
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_no_generic_top_level_names_are_installed(tmp_path: Path) -> None:
    r = run_elsewhere(
        "import importlib.util as u; print([n for n in ('common', 'backends', 'cli') if u.find_spec(n)])", tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_installed_package_keeps_the_layout_under_nst(tmp_path: Path) -> None:
    r = run_elsewhere(
        "import sys; from nst import common, cli; import nst.backends; "
        "print(common.load_backend('torch').name, common.Settings().steps, callable(cli.main),"
        " 'mxnet' in sys.modules)",
        tmp_path,
    )
    if "not installed" in r.stderr:
        pytest.skip("torch is not installed")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["torch", "500", "True", "False"]


def test_the_nst_command_is_on_the_path_of_the_environment(tmp_path: Path) -> None:
    nst = Path(sys.executable).with_name("nst")
    r = subprocess.run([str(nst), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "stylize" in r.stdout


def test_the_all_extra_is_the_union_of_the_others_and_does_not_refer_to_itself() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert not any(project["name"] in r for r in extras["all"])
    others = [r for name, reqs in extras.items() if name != "all" for r in reqs]
    assert sorted(extras["all"]) == sorted(set(others))  # each once (mxnet and jax both cap numpy)
    assert set(extras) == {"torch", "mxnet", "jax", "batch", "serve", "dev", "all"}


def test_the_wheel_holds_the_data_files_the_code_reads(tmp_path: Path) -> None:
    """A wheel (not the editable install the tests run from) carries what each backend declares before its
    framework loads (registry.declared: weights.toml, memory.toml, precision.toml), the page and the porting
    guide's prose."""
    import zipfile

    from common.core import registry

    root = Path(__file__).resolve().parents[1]
    source = tmp_path / "source"  # a copy: a build writes build/ and *.egg-info beside the sources it reads
    skip = shutil.ignore_patterns(".*", "__pycache__", "build", "*.egg-info", "tests", "docs", "benchmarks")
    shutil.copytree(root, source, ignore=skip)
    out = tmp_path / "wheel"
    argv = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(out)]
    r = subprocess.run([*argv, "-q"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    declared = ("weights", "memory", "precision")
    wanted = {f"nst/backends/{name}/{what}.toml" for name in registry.NAMES for what in declared}
    wanted |= {f"nst/common/serve/static/{p.name}" for p in (root / "common" / "serve" / "static").iterdir()}
    wanted |= {"nst/common/studies/port_guide.toml"}
    assert wanted <= names, sorted(wanted - names)
