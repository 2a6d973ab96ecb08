"""`nst serve` as a real process on 127.0.0.1: a stopped or killed server leaves every result and a checkpoint of
every running job, and a restarted one resumes them by itself (what the user stopped stays stopped); a client that
goes away does not stop its run; the address it really listens on; the flags, the missing extra and the installed
package."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import get_backend
from serve_helpers import ROOT, SERVE, listening, refused, require_serve, start_server, stop_server
from test_imports import BLOCKER

require_serve()
import httpx  # noqa: E402

from common import serve  # noqa: E402

BOTH = ("torch", "mxnet")


def post_run(url: str, steps: int, backends=BOTH) -> str:
    body = {"backends": list(backends), "settings": {"size": [32, 48], "steps": steps, "weights": "random"}}
    r = httpx.post(f"{url}/api/runs", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def wait(url: str, run_id: str, until, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{url}/api/runs/{run_id}", timeout=30).json()
        if until(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"timed out: {run}")


def started(run: dict) -> bool:
    return all(job["step"] >= 2 for job in run["jobs"].values())


def check_stopped_by_signal(folder: Path) -> None:
    """Each job: its image, a record saying 'interrupted', a checkpoint, and exit code 130."""
    for name in BOTH:
        job = folder / name
        assert json.loads((job / "run.json").read_text())["status"] == "interrupted"
        assert (job / "run.ckpt.npz").is_file() and (job / "result.png").is_file()
        assert json.loads((job / "end.json").read_text())["code"] == 130


def history(folder: Path) -> list[dict]:
    """A job's steps as its run record has them."""
    return json.loads((folder / "run.json").read_text())["history"]


def test_sigterm_stops_every_job_with_its_checkpoint_and_a_restarted_server_resumes_them_by_itself(tmp_path) -> None:
    get_backend("torch"), get_backend("mxnet")
    data, steps = tmp_path / "data", 60
    proc, url = start_server(data)
    try:
        reference = post_run(url, steps)  # never stopped: what the interrupted run must end as
        wait(url, reference, lambda run: run["terminal"] and run["comparison"])
        running = post_run(url, steps)
        wait(url, running, started)
        kept = post_run(url, steps, backends=["torch"])  # queued behind the two jobs running, then the user stops it
        assert httpx.post(f"{url}/api/runs/{kept}/stop").json()["jobs"]["torch"]["state"] == "cancelled"
    finally:
        code, err = stop_server(proc, signal.SIGTERM, timeout=120)
    assert code == -signal.SIGTERM and "Traceback" not in err, err
    check_stopped_by_signal(data / "runs" / running)
    stopped = {name: history(data / "runs" / running / name) for name in BOTH}
    why = {name: json.loads((data / "runs" / running / name / "control.json").read_text()) for name in BOTH}
    assert why == {name: {"want": "run", "by": "server"} for name in BOTH}
    assert json.loads((data / "runs" / kept / "torch" / "control.json").read_text()) == {"want": "stop", "by": "user"}

    proc, url = start_server(data)  # no request: what the server's stop interrupted goes on by itself
    try:
        run = wait(url, running, lambda run: run["terminal"] and run["comparison"])
        assert {n: (j["state"], j["step"]) for n, j in run["jobs"].items()} == {n: ("completed", steps) for n in BOTH}
        job = httpx.get(f"{url}/api/runs/{kept}").json()["jobs"]["torch"]  # what the user stopped stays stopped
        assert (job["state"], job["resumable"], job["stopped_by"]) == ("cancelled", True, "user"), job
    finally:
        stop_server(proc)
    assert not (data / "runs" / kept / "torch" / "worker.log").exists()  # it never ran
    losses = ("step", "stage", "content", "style", "tv", "total", "lr")
    for name in BOTH:
        resumed, expected = (history(data / "runs" / r / name) for r in (running, reference))
        assert resumed[: len(stopped[name])] == stopped[name]  # continued from the checkpoint, not run again
        assert [{k: h[k] for k in losses} for h in resumed] == [{k: h[k] for k in losses} for h in expected]
        results = [(data / "runs" / r / name / "result.png").read_bytes() for r in (running, reference)]
        assert results[0] == results[1]


def test_a_sigkilled_server_s_workers_checkpoint_and_a_restarted_server_continues_them(tmp_path) -> None:
    get_backend("torch"), get_backend("mxnet")
    data = tmp_path / "data"
    proc, url = start_server(data)
    run_id = post_run(url, 400)
    try:
        wait(url, run_id, started)
    finally:
        proc.kill()  # no shutdown code runs: the kernel sends the workers SIGTERM (PR_SET_PDEATHSIG)
        proc.communicate(timeout=30)
    ends = [data / "runs" / run_id / name / "end.json" for name in BOTH]
    deadline = time.monotonic() + 60
    while not all(end.is_file() for end in ends) and time.monotonic() < deadline:
        time.sleep(0.2)
    check_stopped_by_signal(data / "runs" / run_id)
    done = {name: len(history(data / "runs" / run_id / name)) for name in BOTH}
    proc, url = start_server(data)
    try:  # it goes on by itself, from its checkpoint
        wait(url, run_id, lambda run: all(run["jobs"][n]["step"] > done[n] for n in BOTH))
    finally:
        stop_server(proc)
    for name in BOTH:
        assert len(history(data / "runs" / run_id / name)) > done[name]


@pytest.mark.parametrize("name", BOTH)
def test_a_client_that_disconnects_does_not_stop_its_run(name, tmp_path) -> None:
    get_backend(name)
    proc, url = start_server(tmp_path / "data")
    try:
        run_id = post_run(url, 12, backends=[name])
        with httpx.stream("GET", f"{url}/api/runs/{run_id}/events", timeout=120) as stream:
            lines = stream.iter_lines()
            while next(lines) != "event: step":
                pass
        run = wait(url, run_id, lambda run: run["terminal"])
        assert run["jobs"][name]["state"] == "completed" and run["jobs"][name]["step"] == 12
    finally:
        code, err = stop_server(proc, signal.SIGINT)
    assert code == 130 and err.strip() == "nst: interrupted", err  # Ctrl-C on an idle server


def test_without_the_extra_nst_serve_exits_2_naming_it(tmp_path) -> None:
    serve_cmd = f"sys.exit(cli.main(['serve', '--port', '0', '--data-dir', {str(tmp_path / 'd')!r}]))"
    block = BLOCKER.format(frameworks=("fastapi", "uvicorn"))
    code, err = refused([sys.executable, "-c", f"{block}import cli, sys\n{serve_cmd}"], cwd=ROOT)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "nst-crossframe[serve]" in err and "fastapi and uvicorn" in err and not (tmp_path / "d").exists()


def test_importing_common_serve_imports_no_web_framework() -> None:
    code = "import sys, common.serve, cli; print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', "
    code += "'uvicorn', 'starlette'}))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr


def ipv6_loopback() -> bool:
    """Whether this machine can listen on ::1."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_the_listening_socket_is_the_one_asked_for(host, tmp_path) -> None:
    if host == "::1" and not ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    proc, url = start_server(tmp_path / "data", "--host", host)
    try:
        port = int(url.rsplit(":", 1)[1])
        address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
        assert listening(proc.pid) == [(address, port)]  # the kernel's own table (/proc), not the server's line
        assert httpx.get(f"{url}/api/options", timeout=30).status_code == 200
    finally:
        stop_server(proc)


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_another_address_needs_allow_remote_and_then_gets_a_warning(host, tmp_path) -> None:
    # a real process: were the refusal gone, it would serve on every interface; refused() kills it at once then
    code, err = refused([*SERVE, "--host", host, "--port", "0", "--data-dir", str(tmp_path / "d")])
    assert code == 2 and err.count("\n") == 1 and "--allow-remote" in err and not (tmp_path / "d").exists()
    assert serve.check_host("127.0.0.1", False) is None and serve.check_host("localhost", False) is None
    assert "there is no login" in serve.check_host("0.0.0.0", True)


def test_bad_serve_flags_are_one_line(tmp_path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        for argv, fragment in (
            (["--max-runs", "0", "--port", "0", "--data-dir", str(tmp_path / "d")], "--max-runs must be at least 1"),
            (["--data-dir", str(a_file), "--port", "0"], "is a file"),
            (["--port", str(busy.getsockname()[1]), "--data-dir", str(tmp_path / "d")], "give another --port"),
            (["--port", "70000", "--data-dir", str(tmp_path / "d")], "--port must be 0 to 65535"),
        ):
            code, err = refused([*SERVE, *argv])  # a real process: were a check gone, it would serve until killed
            assert code == 2 and err.count("\n") == 1 and fragment in err, err
    finally:
        busy.close()


def test_the_wheel_holds_the_page(tmp_path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "build", "*.egg-info"))
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=source, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    for page in ("index.html", "app.js", "lossplot.js", "style.css"):
        assert f"nst/common/serve/static/{page}" in names
    assert "nst/common/serve/child.py" in names and "nst/common/serve/app.py" in names
