"""nst batch on a real local Ray instance (one for the whole module): a grid equal to single nst stylize runs,
resuming, worker reuse, the loopback address, failing jobs and a worker killed mid-job."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from batch_support import ROOT, SMALL, descendants, ledger_lines, make_images, require_ray, titled, wait_for
from PIL import Image

import common
import common.batch


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance (2 CPUs, on 127.0.0.1) for every test of this module."""
    require_ray()
    from common.batch.local import LocalRay

    with LocalRay(num_cpus=2) as instance:
        yield instance


@pytest.fixture(scope="module")
def grid(local_ray, tmp_path_factory):
    """3 contents x 2 styles x both backends, 32x48, 3 steps: run once, examined by several tests."""
    folder = tmp_path_factory.mktemp("grid")
    contents, styles = make_images(folder / "in", 3, 2)
    out = folder / "out"
    kwargs = {"content": [str(folder / "in" / "c*.png")], "style": styles, "grid": {"backend": ["torch", "mxnet"]}}
    report = common.batch.run(out, **kwargs, settings=SMALL, workers=2, progress=False)
    return {"out": out, "report": report, "contents": contents, "styles": styles, "kwargs": kwargs}


def test_a_grid_writes_every_output_and_a_whole_summary(grid) -> None:
    out, report = grid["out"], grid["report"]
    assert (report.exit_code, report.total, report.ok, report.failed, report.ran) == (0, 12, 12, 0, 12)
    names = {f"c{c}__s{s}__backend-{b}.png" for c in range(3) for s in range(2) for b in ("torch", "mxnet")}
    assert {p.name for p in out.glob("c?__*.png")} == names
    for name in names:
        assert Image.open(out / name).size == (48, 32)
    lines = ledger_lines(out)
    assert sorted(line["job"] for line in lines) == sorted(names)  # one line per job, no duplicate
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert (
        len(rows) == 12
        and {r["status"] for r in rows} == {"ok"}
        and {r["backend"] for r in rows}
        == {
            "torch",
            "mxnet",
        }
    )
    md = (out / "summary.md").read_text()
    pairs = json.loads((out / "summary.json").read_text())["backends"]
    assert len(pairs) == 6 and all(p["psnr"] > 20 for p in pairs)  # the two backends' outputs of each job
    assert "## The backends, job by job" in md and md.count("| c") >= 6 + 12
    assert Image.open(out / "contact_sheet.png").size == (128 * 5, (128 + 26) * 4)  # contents x (styles x backends)


def test_each_job_equals_a_single_nst_stylize_run_bit_for_bit(grid, tmp_path: Path) -> None:
    """Every job of the grid again as its own `nst stylize` (one thread, as each batch job had): same image
    file, same final losses."""
    out, lines = grid["out"], {line["job"]: line for line in ledger_lines(grid["out"])}
    argvs, pairs = [], []
    for job, line in lines.items():
        c, s, b = job[:-4].split("__")
        single, log = tmp_path / job, tmp_path / f"{job}.json"
        argvs.append(
            ["stylize", "--backend", b.split("-")[1], "--content", str(Path(grid["contents"][int(c[1])])),
             "--style", grid["styles"][int(s[1])], "--output", str(single), "--log", str(log),
             "--size", "32", "48", "--steps", "3", "--weights", "random", "--quiet"]
        )  # fmt: skip
        pairs.append((out / job, single, log, line))
    code = "import json, sys, cli\nfor argv in json.loads(sys.argv[1]):\n    assert cli.main(argv) == 0, argv\n"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code, json.dumps(argvs)], cwd=ROOT, env=env, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    for batch_file, single_file, log, line in pairs:
        assert batch_file.read_bytes() == single_file.read_bytes(), batch_file.name
        last = json.loads(log.read_text())["history"][-1]
        assert line["losses"] == {k: last[k] for k in ("content", "style", "tv", "total")}, batch_file.name
        assert line["worker"]["threads"] == 1
    rows = {r["job"]: r for r in csv.DictReader((out / "summary.csv").open())}
    assert all(float(rows[job]["total_loss"]) == line["losses"]["total"] for job, line in lines.items())


def test_a_second_run_skips_every_finished_job(grid) -> None:
    out = grid["out"]
    before = (out / "batch.jsonl").read_bytes()
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("c?__*.png")}
    report = common.batch.run(out, **grid["kwargs"], settings=SMALL, workers=2, progress=False)
    assert (report.exit_code, report.skipped, report.ran, report.ok) == (0, 12, 0, 12)
    assert (out / "batch.jsonl").read_bytes() == before
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("c?__*.png")} == stamps


def test_workers_reuse_their_backend_and_everything_runs_on_loopback(grid, local_ray) -> None:
    import ray

    lines = ledger_lines(grid["out"])
    loads = [(line["worker"]["pid"], line["job"].split("-")[-1]) for line in lines if line["worker"]["fresh"]]
    assert len(loads) == len(set(loads)), "a worker process loaded the same backend twice"
    assert len(loads) < len(lines), "no job reused a loaded backend"
    assert {line["worker"]["node"] for line in lines} == {"127.0.0.1"}
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")


def kill_first_running_job(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first Ray worker seen running a job (a process below this one titled ray::run_job)."""
    while not stop.is_set():
        running = titled("ray::run_job", descendants(os.getpid()))
        if running:
            os.kill(running[0], signal.SIGKILL)
            killed.append(running[0])
            return
        stop.wait(0.02)


def test_failing_jobs_and_a_killed_worker_do_not_stop_the_batch(local_ray, tmp_path: Path) -> None:
    contents, styles = make_images(tmp_path / "in", 2, 1)
    (tmp_path / "jobs.csv").write_text(
        "content,style,output,steps,lr,size,style_layers\n"
        f"{contents[0]},{styles[0]},good0.png,40,,,\n"
        f"{contents[1]},{styles[0]},good1.png,40,,,\n"
        f"{contents[0]},{styles[0]},diverges.png,20,1e30,,\n"
        f"{contents[1]},{styles[0]},too_small.png,3,,16 16,conv1_1;pool5\n"
        f"missing.png,{styles[0]},invalid.png,3,,,\n"
    )
    killed, stop = [], threading.Event()
    killer = threading.Thread(target=kill_first_running_job, args=(killed, stop))
    killer.start()
    try:
        report = common.batch.run(
            tmp_path / "out", str(tmp_path / "jobs.csv"), settings=SMALL, skip_invalid=True, progress=False
        )
    finally:
        stop.set()
        killer.join()
    assert killed, "no running job was seen to kill"
    # too_small.png is refused up front (the plan of nst stylize: its stage is smaller than pool5 needs), as
    # nst stylize refuses it; missing.png too; diverges.png fails at run time
    assert (report.exit_code, report.ok, report.failed, report.invalid) == (1, 2, 1, 2)
    lines = {line["job"]: line for line in ledger_lines(tmp_path / "out")}
    assert len(ledger_lines(tmp_path / "out")) == len(lines) == 3  # the killed job ran again, recorded once
    assert killed[0] not in {line["worker"]["pid"] for line in lines.values()}
    assert lines["good0.png"]["status"] == lines["good1.png"]["status"] == "ok"
    error = lines["diverges.png"]["error"]
    assert "non-finite" in error and str(tmp_path / "out" / "diverges.png") in error and "nst-job-" not in error
    assert np.asarray(Image.open(tmp_path / "out" / "diverges.png")).std() > 5  # the last finite image, kept
    assert "too_small.png" not in lines
    assert not (tmp_path / "out" / "too_small.png").exists() and not (tmp_path / "out" / "invalid.png").exists()
    md = (tmp_path / "out" / "summary.md").read_text()
    assert all(name in md for name in ("diverges.png", "row 4", "pool5 needs at least 32", "row 5", "missing.png"))
    again = common.batch.run(tmp_path / "out", str(tmp_path / "jobs.csv"), settings=SMALL, skip_invalid=True)
    assert (again.exit_code, again.ran, again.skipped, again.failed) == (1, 0, 3, 1)  # failures are kept, not rerun
    retried = common.batch.run(
        tmp_path / "out",
        str(tmp_path / "jobs.csv"),
        settings=SMALL,
        skip_invalid=True,
        retry_failed=True,
        progress=False,
    )
    assert (retried.exit_code, retried.ran, retried.ok, retried.failed) == (1, 1, 2, 1)  # it fails again
    assert len(ledger_lines(tmp_path / "out")) == 4


def test_a_weights_file_travels_to_the_workers(local_ray, tmp_path: Path) -> None:
    """--weights PATH: the file goes through the object store; the result equals the seeded weights it holds."""

    path = tmp_path / "vgg.pth"
    common.load_backend("torch").write_weights(str(path), common.random_vgg19(0))
    contents, styles = make_images(tmp_path / "in", 1, 1)
    results = {}
    for weights in ("random", str(path)):
        out = tmp_path / ("random" if weights == "random" else "file")
        settings = {**SMALL, "backend": "torch", "weights": weights}
        report = common.batch.run(out, content=contents, style=styles, settings=settings, progress=False)
        assert report.exit_code == 0
        (line,) = ledger_lines(out)
        results[weights] = (out / "c0__s0.png").read_bytes(), line["weights"]
    assert results["random"][0] == results[str(path)][0]
    assert results[str(path)][1] == f"file {path}"


def test_a_gpu_batch_is_refused_where_the_cluster_has_none(local_ray, tmp_path: Path) -> None:
    contents, styles = make_images(tmp_path / "in", 1, 1)
    with pytest.raises(common.UserError, match="--device cuda: the Ray cluster has no GPU"):
        common.batch.run(tmp_path / "out", content=contents, style=styles, settings={**SMALL, "device": "cuda"})
    assert not ledger_lines(tmp_path / "out")


def test_sigint_cancels_the_jobs_in_flight_keeps_the_finished_and_exits_130(local_ray, tmp_path, capsys) -> None:
    import cli

    make_images(tmp_path / "in", 2, 2)
    out = tmp_path / "out"
    argv = ["batch", "--content", str(tmp_path / "in" / "c*.png"), "--style", str(tmp_path / "in" / "s*.png")]
    argv += ["--output-dir", str(out), "--backend", "torch", "--size", "32", "48", "--steps", "20"]
    argv += ["--weights", "random", "--quiet"]

    def interrupt_after_the_first_job() -> None:
        wait_for(lambda: ledger_lines(out), 240, "a finished job")
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=interrupt_after_the_first_job)
    sender.start()
    code = cli.main(argv)
    sender.join()
    err = capsys.readouterr().err
    assert code == 130, err
    assert err.strip().splitlines()[-1].startswith("nst: interrupted: ") and "Traceback" not in err
    done = {line["job"] for line in ledger_lines(out)}
    assert 1 <= len(done) < 4 and {p.name for p in out.glob("c?__*.png")} == done  # nothing of the cancelled jobs
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    summary = json.loads((out / "summary.json").read_text())["counts"]
    assert summary["ok"] == len(done) and summary["not run"] == 4 - len(done)
    assert cli.main(argv) == 0  # the same command again: the rest
    rerun = capsys.readouterr().out
    assert len(ledger_lines(out)) == 4 and f"({len(done)} done before, {4 - len(done)} run now)" in rerun


def test_a_grid_over_every_backend_of_the_registry_runs_and_compares_each_pair(local_ray, tmp_path: Path) -> None:
    """--grid backend=torch,mxnet,jax (the registry's names): a job per backend, each the image a single run of
    that backend gives, and the summary compares every pair of them."""
    names = list(common.core.registry.NAMES)
    contents, styles = make_images(tmp_path / "in", 1, 1)
    out = tmp_path / "out"
    report = common.batch.run(
        out, content=contents, style=styles, grid={"backend": names}, settings=SMALL, workers=2, progress=False
    )
    assert (report.exit_code, report.ok, report.failed) == (0, len(names), 0)
    assert {p.name for p in out.glob("c0__*.png")} == {f"c0__s0__backend-{b}.png" for b in names}
    pairs = json.loads((out / "summary.json").read_text())["backends"]
    assert len(pairs) == len(common.core.registry.pairs()) and all(p["psnr"] > 20 for p in pairs)
