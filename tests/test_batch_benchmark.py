"""benchmarks/batch_throughput.py runs end to end at a tiny scale (its numbers are only meaningful at full size)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from batch_support import ROOT, require_ray


@pytest.mark.slow
def test_the_batch_benchmark_runs_end_to_end_at_a_tiny_scale(tmp_path: Path) -> None:
    require_ray()
    out = tmp_path / "b.json"
    argv = [sys.executable, "benchmarks/batch_throughput.py", "--jobs", "3", "--size", "32", "32", "--steps", "2"]
    argv += ["--probe-size", "32", "32", "--probe-steps", "2", "--estimate-steps", "100", "--out", str(out)]
    argv += ["--backend", "mxnet"]  # the default is torch: this checks the choice reaches every run
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["settings"]["backend"] == "mxnet" and "steps (mxnet, random weights)" in r.stdout
    assert all(run["backends"] == ["mxnet"] for run in report["runs"].values())  # the loop's and every batch's jobs
    assert set(report["runs"]) >= {
        "loop",
        "1 worker(s) x 1 thread",
        f"{report['machine']['cores']} worker(s) x 1 thread",
    }
    loop = report["runs"]["loop"]  # in two halves around the batches, with its time outside the steps
    assert [h["jobs"] for h in loop["halves"]] == [2, 1] and loop["wall"] == sum(h["wall"] for h in loop["halves"])
    assert 0 < loop["outside_steps_per_job"] < loop["seconds_per_job"] and loop["step_median"] > 0
    main = report["runs"][report["main"]]
    assert main["run"]["jobs_run"] == 3 and main["run"]["nodes"] == ["127.0.0.1"]
    o = main["overhead"]
    assert o["job_seconds_median"] > 0 and 0 <= o["idle_share_of_slots"] < 1 and o["bytes_in_per_job"] > 0
    assert o["gap_seconds_median"] is not None and o["check_seconds_per_job"] > 0  # a worker ran two of the 3 jobs
    (e,) = report["estimates"]
    assert e["steps"] == 100 and e["jobs_per_hour_per_node"] > 0 and e["hours_for_imagenet"] > 0
    assert "The loop ran in two halves" in r.stdout and "outside the steps" in r.stdout
    assert "| shell loop of nst stylize |" in r.stdout and "Stylized-ImageNet, 100 steps" in r.stdout
