"""Frameworks are imported lazily: common and the CLI work with no framework installed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import common

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("torch", "torchvision", "mxnet", "gluoncv", "ray")

# Run in a fresh interpreter where importing any framework raises ImportError, as if none were installed.
BLOCKER = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {frameworks!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Blocker())
"""


def run_without_frameworks(code: str) -> subprocess.CompletedProcess:
    """Run Python code from the checkout root with every framework import failing."""
    script = BLOCKER.format(frameworks=FRAMEWORKS) + code
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_import_common_and_cli_imports_no_framework() -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, common, cli; print(sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r}))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_common_and_cli_help_work_with_no_framework_installed() -> None:
    r = run_without_frameworks(
        "import common, cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "try:\n    cli.main(['stylize', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "print('ok')"
    )
    assert r.returncode == 0, r.stderr
    assert "stylize" in r.stdout and r.stdout.strip().endswith("ok")


def test_python_cli_py_help_runs_from_a_checkout() -> None:
    r = subprocess.run([sys.executable, "cli.py", "stylize", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "--backend" in r.stdout and "--style-layers" in r.stdout


@pytest.mark.parametrize("name,extra", [("torch", "torch"), ("mxnet", "mxnet")])
def test_missing_framework_names_the_pip_extra(name: str, extra: str) -> None:
    r = run_without_frameworks(
        "import common\n"
        f"try:\n    common.load_backend({name!r})\nexcept common.BackendUnavailable as e:\n    print(e)\n"
    )
    assert r.returncode == 0, r.stderr
    assert f"nst-crossframe[{extra}]" in r.stdout


def test_missing_framework_on_the_cli_is_one_line_and_exit_2() -> None:
    r = run_without_frameworks(
        "import cli, sys\nsys.exit(cli.main(['stylize', '--backend', 'mxnet', '--steps', '1', '--quiet']))"
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "pip install" in r.stderr and "Traceback" not in r.stderr


def test_unknown_backend_is_a_value_error_naming_the_known_ones() -> None:
    known = re.escape(str(sorted(common.core.registry.NAMES)))
    with pytest.raises(ValueError, match=rf"unknown backend 'tensorflow'; known backends are {known}"):
        common.load_backend("tensorflow")
