""".ci/run stops at its first failing command: the real script, run by bash with every program it calls replaced
by a stub that logs its name and fails when asked (no venv is created, nothing is installed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The programs .ci/run calls, in order: python3 (makes .venv), then .venv/bin/pip, nst, apt-get x2 (Chromium),
# python (pytest), ruff x2.
CALLS = ["python3", "pip", "nst", "apt-get", "apt-get", "python", "ruff", "ruff"]


def run_ci(tmp_path: Path, failing: str | None, script: str | None = None) -> tuple[int, list[str]]:
    """Run a copy of .ci/run (or of the given script text) in a fake checkout; its exit code and the stubs called."""
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    (checkout / ".ci" / "run").write_text(script if script is not None else (ROOT / ".ci" / "run").read_text())
    log = tmp_path / "calls.log"
    stubs = {name: tmp_path / "bin" for name in ("python3", "apt-get")}
    stubs |= {name: checkout / ".venv" / "bin" for name in ("pip", "nst", "python")}
    stubs["ruff"] = checkout / ".venv" / "bin"
    for name, folder in stubs.items():
        folder.mkdir(parents=True, exist_ok=True)
        status = 1 if name == failing else 0
        (folder / name).write_text(f'#!/bin/sh\necho {name} >> "{log}"\nexit {status}\n')
        (folder / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    r = subprocess.run([shutil.which("bash") or "/bin/bash", str(checkout / ".ci" / "run")], env=env, check=False)
    return r.returncode, (log.read_text().split() if log.exists() else [])


def test_the_script_runs_every_step_when_all_succeed(tmp_path: Path) -> None:
    assert run_ci(tmp_path, None) == (0, CALLS)


@pytest.mark.parametrize("failing", ["python3", "pip", "nst", "apt-get", "python", "ruff"])
def test_a_failing_step_stops_the_script_there(tmp_path: Path, failing: str) -> None:
    code, called = run_ci(tmp_path, failing)
    assert code != 0
    assert called == CALLS[: CALLS.index(failing) + 1]  # nothing after the failed step ran


def test_without_the_subshell_a_failing_pip_install_would_not_stop_the_script(tmp_path: Path) -> None:
    """The control: bash's set -e ignores a failure inside an && chain, so the old line went on to the tests."""
    text = (ROOT / ".ci" / "run").read_text()
    line = next(x for x in text.splitlines() if x.startswith("( python3 -m venv"))
    code, called = run_ci(tmp_path, "pip", text.replace(line, line[2:-2]))
    assert code == 0 and called == ["python3", "pip", "apt-get", "apt-get", "python", "ruff", "ruff"]
