"""Deleting runs and uploads on nst serve: only what is over, only its own files; identical uploads kept once, and
the runs made from a deleted upload keep their inputs (their own copies)."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import pytest
from conftest import get_backend
from PIL import Image
from serve_helpers import require_serve

require_serve()
from fastapi.testclient import TestClient  # noqa: E402

from common.serve.app import create_app  # noqa: E402

TINY = {"size": [32, 48], "steps": 2, "weights": "random"}


@pytest.fixture
def client(tmp_path):
    """A test client of an app over tmp_path/data running one job at a time (so a second one waits, queued)."""
    with TestClient(create_app(tmp_path / "data", max_runs=1)) as c:
        yield c


def png(color: str) -> bytes:
    """A 40x40 PNG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), color).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client: TestClient, data: bytes, **params: str) -> dict:
    """POST an upload; its description (asserting 201)."""
    r = client.post("/api/uploads", params=params, content=data)
    assert r.status_code == 201, r.text
    return r.json()


def start(client: TestClient, content: str) -> str:
    """Start a tiny torch run on an input; its id."""
    r = client.post("/api/runs", json={"backends": ["torch"], "content": content, "settings": TINY})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def wait_over(client: TestClient, run_id: str, timeout: float = 180) -> dict:
    """Poll a run until it has nothing left to do; the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["terminal"]:
            return run
        time.sleep(0.1)
    raise AssertionError(f"timed out; the run is {run}")


def files(folder: Path) -> dict[str, bytes]:
    """Every file under a folder (hidden ones too), by its path inside it, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(r, status: int, fragment: str) -> None:
    """A refusal: this status, one line saying ``fragment``."""
    assert r.status_code == status and fragment in r.json()["detail"] and "\n" not in r.json()["detail"], r.text


def test_identical_uploads_are_kept_once_and_every_upload_is_listed(client, tmp_path) -> None:
    teal, navy = png("teal"), png("navy")
    first = upload(client, teal, name="a.png")
    again = upload(client, teal, name="copy.png", role="style")
    other = upload(client, navy, name="b.png", role="style")
    assert again == first and other["id"] != first["id"]
    kept = sorted(p.name for p in (tmp_path / "data" / "uploads").iterdir())
    assert kept == sorted(f"{u['id']}{ext}" for u in (first, other) for ext in (".img", ".json"))
    listed = client.get("/api/uploads").json()
    assert {u["id"] for u in listed} == {first["id"], other["id"]}
    for u, data, name, role in ((first, teal, "a.png", "content"), (other, navy, "b.png", "style")):
        shown = next(x for x in listed if x["id"] == u["id"])
        assert (shown["name"], shown["role"], shown["size"]) == (name, role, len(data))
        assert shown["sha256"] == hashlib.sha256(data).hexdigest() and (shown["width"], shown["height"]) == (40, 40)


def test_a_run_is_deleted_only_once_it_is_over_and_nothing_else_is_touched(client, tmp_path) -> None:
    get_backend("torch")
    data = tmp_path / "data"
    image = upload(client, png("teal"), name="a.png")["id"]
    kept = start(client, image)  # starting (max_runs 1)
    doomed = start(client, image)  # queued behind it
    for run_id in (kept, doomed):
        one_line(client.delete(f"/api/runs/{run_id}"), 409, "is not over")
    for run_id in (kept, doomed):
        wait_over(client, run_id)
    before = files(data)
    r = client.delete(f"/api/runs/{doomed}")
    assert r.status_code == 204 and r.content == b""
    assert files(data) == {k: v for k, v in before.items() if not k.startswith(f"runs/{doomed}/")}
    assert sorted(p.name for p in (data / "runs").iterdir()) == [kept]  # nothing left behind under another name
    one_line(client.get(f"/api/runs/{doomed}"), 404, "no run")
    one_line(client.delete(f"/api/runs/{doomed}"), 404, "no run")
    one_line(client.delete("/api/runs/uploads"), 400, "not a run id")
    assert [run["id"] for run in client.get("/api/runs").json()] == [kept]
    assert client.get(f"/api/runs/{kept}/torch/files/result").status_code == 200
    assert files(data) == {k: v for k, v in before.items() if not k.startswith(f"runs/{doomed}/")}


def test_an_upload_is_deleted_only_when_no_live_run_uses_it_and_its_runs_keep_their_inputs(client, tmp_path) -> None:
    get_backend("torch")
    data, teal = tmp_path / "data", png("teal")
    image = upload(client, teal, name="a.png")["id"]
    finished = start(client, image)  # starting (max_runs 1)
    stopped = start(client, image)  # queued, then stopped: it will run after the upload is gone
    assert client.post(f"/api/runs/{stopped}/stop").json()["jobs"]["torch"]["state"] == "cancelled"
    one_line(client.delete(f"/api/uploads/{image}"), 409, f"is an input of run {finished}")
    wait_over(client, finished)
    before = files(data)
    r = client.delete(f"/api/uploads/{image}")
    assert r.status_code == 204 and r.content == b""
    assert files(data) == {k: v for k, v in before.items() if not k.startswith(f"uploads/{image}.")}
    assert client.get("/api/uploads").json() == []
    one_line(client.delete(f"/api/uploads/{image}"), 404, "no upload")
    one_line(client.delete("/api/uploads/runs"), 400, "not an upload id")
    one_line(client.post("/api/runs", json={"backends": ["torch"], "content": image}), 400, "no upload")
    for run_id in (finished, stopped):  # their own copies: shown, and the stopped run goes on from them
        assert client.get(f"/api/runs/{run_id}/inputs/content").content == teal
    assert client.post(f"/api/runs/{stopped}/resume").status_code == 200
    assert wait_over(client, stopped)["jobs"]["torch"]["state"] == "completed"
    assert client.get(f"/api/runs/{stopped}").json()["inputs"]["content"] == {"name": "a.png", "upload": image}
    assert upload(client, teal, name="again.png")["id"] == image  # the same bytes again: the same id, kept anew
