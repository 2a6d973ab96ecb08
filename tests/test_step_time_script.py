"""benchmarks/step_time.py: every contender, in interleaved rounds, with the matmul peak measured in each round."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from common.core.recipe import CONTENT_LAYERS, STYLE_LAYERS
from common.studies import flops

ROOT = Path(__file__).resolve().parent.parent


def test_step_time_runs_every_contender_in_interleaved_rounds(every_backend, tmp_path: Path) -> None:
    out = tmp_path / "step_time.json"
    argv = [sys.executable, "benchmarks/step_time.py", "--sizes", "32x48", "--warmup", "0", "--steps", "1"]
    r = subprocess.run([*argv, "--rounds", "2", "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(out.read_text())
    machine, results = report["machine"], report["results"]
    assert machine["rounds"] == 2 and len(machine["fp32_matmul_gflops_per_round"]) == 2
    assert machine["fp32_matmul_gflops"] == statistics.median(machine["fp32_matmul_gflops_per_round"])
    timed = [x for x in results if x["contender"] != "floor"]
    expected = ["torch", "torch-documents", "mxnet", "mxnet-documents", "mxnet-documents-threads", "jax"]
    assert [x["contender"] for x in timed] == expected
    for x in timed:  # one step per round
        assert x["size"] == [32, 48] and len(x["steps"]) == 2 and x["median"] == statistics.median(x["steps"]) > 0
    (floor,) = [x for x in results if x["contender"] == "floor"]
    step = flops.step_flops((32, 48), CONTENT_LAYERS, STYLE_LAYERS)["total"]
    assert floor["median"] == step / 1e9 / machine["fp32_matmul_gflops"]
    order = [line.split()[0] for line in r.stderr.splitlines() if line.startswith("  ")]
    assert order == expected + expected[::-1]  # the second round runs them in reverse
    assert "(median of 2 rounds)" in r.stdout and "| mxnet / floor |" in r.stdout and "| jax / torch |" in r.stdout
