"""nst serve's HTTP API through FastAPI's test client: runs on both backends with their streamed progress and
comparison, the CLI's result, stop and resume, the queue, the photoreal method and a restarted server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BACKEND_NAMES, get_backend
from PIL import Image
from serve_helpers import require_serve

require_serve()
from fastapi.testclient import TestClient  # noqa: E402

from common.core.registry import NAMES  # noqa: E402
from common.jobs.lifecycle import State  # noqa: E402
from common.serve.app import create_app  # noqa: E402
from common.studies import compare  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = {"size": [32, 48], "steps": 4, "weights": "random"}


@pytest.fixture
def serve(tmp_path):
    """A function giving a test client of an app over tmp_path/data (closed, workers stopped, at the end)."""
    clients = []

    def make(max_runs: int = 2) -> TestClient:
        client = TestClient(create_app(tmp_path / "data", max_runs=max_runs))
        clients.append(client.__enter__())
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def start(client: TestClient, backends=("torch", "mxnet"), **body) -> dict:
    """POST a run; its view (asserting 201)."""
    body.setdefault("settings", TINY)
    r = client.post("/api/runs", json={"backends": list(backends), **body})
    assert r.status_code == 201, r.text
    return r.json()


def events(client: TestClient, run_id: str) -> list[dict]:
    """The run's server-sent events, read until the stream ends (it ends when the run has nothing left to do)."""
    r = client.get(f"/api/runs/{run_id}/events")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    out = []
    for block in r.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            event = json.loads(lines["data"])
            assert event["type"] == lines["event"]
            out.append(event)
    return out


def wait(client: TestClient, run_id: str, until, timeout: float = 180) -> dict:
    """Poll the run until until(run) holds; the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if until(run):
            return run
        time.sleep(0.1)
    raise AssertionError(f"timed out; the run is {run}")


def states(run: dict) -> dict[str, str]:
    return {name: job["state"] for name, job in run["jobs"].items()}


def record(data: Path, run_id: str, backend: str) -> dict:
    return json.loads((data / "runs" / run_id / backend / "run.json").read_text())


LOSSES = ("step", "stage", "content", "style", "tv", "total", "lr")


def stop_each_after(client: TestClient, run_id: str, step: int) -> dict:
    """Stop each backend's job of a run as soon as it has done ``step`` steps (one backend may start much later than
    the other); the stopped run."""
    asked: set[str] = set()

    def stopping(run: dict) -> bool:
        for name, job in run["jobs"].items():
            if name not in asked and job["step"] >= step:
                assert client.post(f"/api/runs/{run_id}/stop", params={"backend": name}).status_code == 200
                asked.add(name)
        return asked == set(run["jobs"])

    wait(client, run_id, stopping)
    return wait(client, run_id, lambda run: run["terminal"])


def check_stopped_by_the_user(client: TestClient, run: dict, total: int) -> None:
    """Each job stopped mid-run as the user asked: resumable, its checkpoint offered for download, and a message
    of the page's own (no server path, no CLI command)."""
    for name, job in run["jobs"].items():
        assert job["state"] == "stopped" and job["outcome"] == "interrupted" and job["resumable"], job
        assert 2 <= job["step"] < total and job["stopped_by"] == "user", job
        assert job["message"] == f"stopped after step {job['step']}", job
        assert job["checkpoint"] == f"/api/runs/{run['id']}/{name}/files/checkpoint"
        download = client.get(job["checkpoint"])
        assert download.status_code == 200 and download.content[:2] == b"PK"  # an .npz (a zip)
        assert f'filename="{run["id"]}-{name}.ckpt.npz"' in download.headers["content-disposition"]


def check_continued(data: Path, run_id: str, reference: str, name: str, stopped: list[dict]) -> None:
    """The resumed job ended as the reference that never stopped (image, every step's losses), and its steps before
    the stop are the stopped run's own (their timings too): continued from the checkpoint, not redone."""
    history = record(data, run_id, name)["history"]
    expected = record(data, reference, name)["history"]
    assert [h["step"] for h in history] == [h["step"] for h in expected] == list(range(1, len(expected) + 1))
    assert history[: len(stopped)] == stopped
    assert [{k: h[k] for k in LOSSES} for h in history] == [{k: h[k] for k in LOSSES} for h in expected]
    result, ref_result = (data / "runs" / r / name / "result.png" for r in (run_id, reference))
    assert Image.open(result).tobytes() == Image.open(ref_result).tobytes()


def test_a_run_on_both_backends_streams_every_step_and_writes_the_comparison(serve, tmp_path) -> None:
    get_backend("torch"), get_backend("mxnet")
    client = serve()
    run_id = start(client)["id"]
    stream = events(client, run_id)
    assert stream[0]["type"] == "snapshot" and stream[-1]["type"] == "end"
    data = tmp_path / "data"
    for name in ("torch", "mxnet"):
        steps = [e["record"] for e in stream if e["type"] == "step" and e["backend"] == name]
        history = record(data, run_id, name)["history"]
        assert steps == history and [h["step"] for h in history] == [1, 2, 3, 4]  # the events are the record
        r = client.get(f"/api/runs/{run_id}/{name}/files/result")
        assert r.status_code == 200 and r.content == (data / "runs" / run_id / name / "result.png").read_bytes()
        assert client.get(f"/api/runs/{run_id}/{name}/files/record").json()["status"] == "completed"
        assert Image.open(data / "runs" / run_id / name / "preview.png").size == (48, 32)
    run = client.get(f"/api/runs/{run_id}").json()
    assert states(run) == {"torch": "completed", "mxnet": "completed"} and run["terminal"]
    comparison = run["comparison"]
    results = [Image.open(data / "runs" / run_id / n / "result.png").convert("RGB") for n in ("torch", "mxnet")]
    expected = compare.differences(*results)
    assert comparison["difference"]["max_abs"] == expected["max_abs"]
    assert comparison["difference"]["psnr"] == pytest.approx(expected["psnr"], rel=1e-12)
    for name in ("torch", "mxnet"):
        last = record(data, run_id, name)["history"][-1]
        assert {k: comparison["backends"][name][k] for k in ("content", "style", "tv", "total")} == {
            k: last[k] for k in ("content", "style", "tv", "total")
        }
    report = client.get(f"/api/runs/{run_id}/comparison/report")
    assert report.status_code == 200 and "nst compare" in report.text and "data:image/png;base64," in report.text
    assert client.get(f"/api/runs/{run_id}/comparison/heatmap").content[:4] == b"\x89PNG"
    assert events(client, run_id)[-1]["type"] == "end"  # a finished run's stream: its snapshot, then end


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_a_run_gives_the_image_nst_stylize_gives(name, serve, tmp_path) -> None:
    get_backend(name)
    client = serve(max_runs=1)  # one worker: it runs with both cores, as the CLI below
    run_id = start(client, backends=[name], settings={**TINY, "lr": 0.1, "seed": 3})["id"]
    assert events(client, run_id)[-1]["type"] == "end"
    out = tmp_path / "cli.png"
    argv = ["stylize", "--backend", name, "--size", "32", "48", "--steps", "4", "--weights", "random", "--lr", "0.1"]
    argv += ["--seed", "3", "--quiet", "--output", str(out)]
    threads = {"OMP_NUM_THREADS": str(os.cpu_count() or 1), "MKL_NUM_THREADS": str(os.cpu_count() or 1)}
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), *argv], env={**os.environ, **threads}, timeout=300)
    assert r.returncode == 0
    served = tmp_path / "data" / "runs" / run_id / name / "result.png"
    assert Image.open(served).tobytes() == Image.open(out).tobytes()
    assert client.get(f"/api/runs/{run_id}").json()["comparison"] is None  # one backend: nothing to compare


@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_stop_keeps_image_record_and_checkpoint_and_resume_after_a_restart_ends_as_if_never_stopped(
    name, serve, tmp_path
) -> None:
    get_backend(name)
    settings = {**TINY, "steps": 30}
    client = serve(max_runs=1)
    reference = start(client, backends=[name], settings=settings)["id"]
    run_id = start(client, backends=[name], settings=settings)["id"]
    assert states(client.get(f"/api/runs/{run_id}").json()) == {name: "queued"}  # max_runs 1: it waits
    run = stop_each_after(client, run_id, 3)
    check_stopped_by_the_user(client, run, 30)
    folder = tmp_path / "data" / "runs" / run_id / name
    stopped = record(tmp_path / "data", run_id, name)["history"]
    assert record(tmp_path / "data", run_id, name)["status"] == "interrupted"
    assert (folder / "run.ckpt.npz").is_file() and Image.open(folder / "result.png").size == (48, 32)
    wait(client, reference, lambda run: run["terminal"])
    client.__exit__(None, None, None)

    client = serve(max_runs=1)  # a new server on the same folder finds both runs; what the user stopped stays so
    listed = {run["id"]: states(run) for run in client.get("/api/runs").json()}
    assert listed == {run_id: {name: "stopped"}, reference: {name: "completed"}}
    assert client.get(f"/api/runs/{run_id}").json()["jobs"][name]["stopped_by"] == "user"
    assert client.post(f"/api/runs/{reference}/resume").status_code == 409
    assert client.post(f"/api/runs/{run_id}/resume").status_code == 200
    assert events(client, run_id)[-1]["type"] == "end"
    check_continued(tmp_path / "data", run_id, reference, name, stopped)


def test_with_max_runs_1_the_jobs_queue_and_a_queued_job_can_be_cancelled(serve, tmp_path) -> None:
    get_backend("torch"), get_backend("mxnet")
    client = serve(max_runs=1)
    first = start(client, settings={**TINY, "steps": 6})
    assert sorted(states(first).values()) == ["queued", "starting"]
    second = start(client, backends=["torch"])
    assert states(second) == {"torch": "queued"}
    assert states(client.post(f"/api/runs/{second['id']}/stop").json()) == {"torch": "cancelled"}
    stream = events(client, first["id"])
    live = dict(states(stream[0]["run"]))
    for event in stream:
        if event["type"] == "job":
            live[event["backend"]] = event["job"]["state"]
        if event["type"] == "step":
            live[event["backend"]] = event["state"]
        assert sum(s in ("starting", "running", "stopping") for s in live.values()) <= 1, live
    assert live == {"torch": "completed", "mxnet": "completed"}
    cancelled = client.get(f"/api/runs/{second['id']}").json()["jobs"]["torch"]
    assert cancelled["state"] == "cancelled" and cancelled["resumable"] and cancelled["files"] == []
    assert cancelled["outcome"] is None  # it never ran
    assert not (tmp_path / "data" / "runs" / second["id"] / "torch" / "worker.log").exists()  # it never ran


def test_the_photoreal_method_stops_and_resumes_on_both_backends_as_if_never_stopped(serve, tmp_path) -> None:
    get_backend("torch"), get_backend("mxnet")
    data, settings = tmp_path / "data", {**TINY, "steps": 16}
    client = serve(max_runs=2)
    reference = start(client, preset="photoreal-hrnet", settings=settings)["id"]
    run_id = start(client, preset="photoreal-hrnet", settings=settings)["id"]  # queued until the reference ends
    run = stop_each_after(client, run_id, 2)
    check_stopped_by_the_user(client, run, 16)
    stopped = {name: record(data, run_id, name)["history"] for name in run["jobs"]}
    assert record(data, run_id, "mxnet")["settings"]["method"] == "hrnet"
    assert client.post(f"/api/runs/{run_id}/resume").status_code == 200
    assert events(client, run_id)[-1]["type"] == "end"
    run = client.get(f"/api/runs/{run_id}").json()
    assert states(run) == {"torch": "completed", "mxnet": "completed"} and run["comparison"]["difference"]
    assert not any(job["resumable"] for job in run["jobs"].values())
    for name in ("torch", "mxnet"):
        check_continued(data, run_id, reference, name, stopped[name])
    r = client.post(f"/api/runs/{run_id}/resume")
    assert r.status_code == 409 and r.json()["detail"] == "nothing to resume (torch completed, mxnet completed)"


def test_auto_weights_are_decided_once_for_every_backend_and_all_are_compared(serve, tmp_path) -> None:
    for name in BACKEND_NAMES:
        get_backend(name)
    client = serve()
    run_id = start(client, backends=BACKEND_NAMES, settings={"size": [32, 48], "steps": 2})["id"]
    assert events(client, run_id)[-1]["type"] == "end"
    run = client.get(f"/api/runs/{run_id}").json()
    assert states(run) == dict.fromkeys(BACKEND_NAMES, "completed")
    shared = json.loads((tmp_path / "data" / "runs" / run_id / "weights.json").read_text())
    assert run["weights_note"] == shared["note"]
    used = {record(tmp_path / "data", run_id, name)["weights"] for name in BACKEND_NAMES}
    assert len(used) == 1  # all loaded the same weights, whatever this machine could get
    assert sorted(run["comparison"]["backends"]) == sorted(BACKEND_NAMES)  # one comparison of them all


def test_a_diverging_run_is_shown_with_the_cli_s_line_and_no_nan_in_json(serve) -> None:
    get_backend("torch")
    client = serve()
    run_id = start(client, backends=["torch"], settings={**TINY, "lr": 1e30})["id"]
    stream = client.get(f"/api/runs/{run_id}/events").text
    run = client.get(f"/api/runs/{run_id}")
    job = run.json()["jobs"]["torch"]
    assert job["state"] == "diverged" and job["message"].startswith("the loss became non-finite at step")
    assert job["outcome"] == "diverged"
    assert not job["resumable"] and "result" in job["files"]
    assert job["history"][-1]["total"] is None  # NaN in the run record; null for browsers (JSON has no NaN)
    assert "NaN" not in stream + run.text and "Infinity" not in stream + run.text


def test_the_page_takes_the_backends_states_and_outcomes_from_the_options_and_types_none_of_them(serve) -> None:
    options = serve().get("/api/options").json()
    assert options["backends"] == list(NAMES)
    assert options["states"] == State.groups() and options["states"]["all"] == [state.value for state in State]
    assert options["outcomes"] == {"completed": "completed", "interrupted": "stopped", "diverged": "diverged",
                                   "failed": "failed", "refused": "failed"}  # fmt: skip
    static = ROOT / "common" / "serve" / "static"
    js, page = (static / "app.js").read_text(), (static / "index.html").read_text()
    words = {*options["states"]["all"], *options["outcomes"], *NAMES}
    quoted = {m.group(2) for m in re.finditer(r"([\"'`])([a-z]+)\1", js)}  # every quoted lower-case word
    assert not words & quoted, words & quoted
    assert "options.states.stoppable" in js and "options.states.ended" in js and "o.backends" in js
    assert not [name for name in NAMES if name in page]  # the checkboxes are made from the options
