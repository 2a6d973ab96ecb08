"""The suite's xdist groups (tests/xdist_groups.py) hold: a small suite in two workers keeps each file in one
worker, its module fixture computed once, and the Ray files together; without the groups it does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from xdist_groups import LONGEST, group

HERE = Path(__file__).resolve().parent
SLOW_FILE = """
import os, time
import pytest

@pytest.fixture(scope="module")
def expensive():
    with open("setups.txt", "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(0.2)

@pytest.mark.parametrize("k", range(12))
def test_uses_it(expensive, k):
    time.sleep(0.05)
"""
RAY_FILE = """
import os, time

def test_{k}():
    with open("ray.txt", "a") as f:
        f.write(f"{{os.getpid()}}\\n")
    time.sleep(0.3)
"""


def run(folder: Path, conftest: str) -> tuple[set[str], set[str]]:
    """Run the small suite in two workers; the processes that set up the module fixture, and that ran Ray files."""
    (folder / "conftest.py").write_text(conftest)
    (folder / "test_parity.py").write_text(SLOW_FILE)
    for k in ("a", "b", "c"):
        (folder / f"test_batch_{k}.py").write_text(RAY_FILE.format(k=k))
        (folder / f"test_other_{k}.py").write_text(f"def test_{k}():\n    pass\n")
    (folder / "pytest.ini").write_text("[pytest]\n")  # not this project's settings
    argv = [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "--rootdir", str(folder)]
    argv += ["-c", str(folder / "pytest.ini"), str(folder)]
    r = subprocess.run(argv, cwd=folder, capture_output=True, text=True)
    assert r.returncode == 0 and "18 passed" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    return set((folder / "setups.txt").read_text().split()), set((folder / "ray.txt").read_text().split())


def test_a_file_runs_in_one_worker_and_the_ray_files_together(tmp_path: Path) -> None:
    hook = f"import sys\nsys.path.insert(0, {str(HERE)!r})\nfrom xdist_groups import pytest_xdist_make_scheduler\n"
    setups, ray = run(tmp_path, hook)
    assert len(setups) == 1 and len(ray) == 1


def test_without_the_groups_a_file_is_split_and_its_fixture_computed_twice(tmp_path: Path) -> None:
    """The control: the same suite under xdist's default (load) scheduling."""
    setups, _ = run(tmp_path, "")
    assert len(setups) == 2


def test_the_groups_are_files_with_the_ray_files_as_one() -> None:
    assert group("tests/test_parity.py::test_check[float32: gram]") == "test_parity.py"
    assert group("tests/test_batch_cli.py::test_x") == group("tests/test_batch.py::test_y[torch]") == "ray"
    assert all(name == "ray" or (HERE / name).is_file() for name in LONGEST)  # no stale name in the list
