"""What clients send to nst serve: bad uploads and bad settings get the CLI's one-line messages and leave nothing
behind; odd image modes are accepted; no name or id from a client can reach a file outside the data folder."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import get_backend
from PIL import Image
from serve_helpers import require_serve
from test_image_files import bomb_png

import cli

require_serve()
from fastapi.testclient import TestClient  # noqa: E402

from common import UserError  # noqa: E402
from common.jobs import presets  # noqa: E402
from common.serve import intake, store  # noqa: E402
from common.serve.app import create_app  # noqa: E402

TINY = {"size": [32, 48], "steps": 1, "weights": "random"}


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(tmp_path / "data")) as c:
        yield c


def nothing_kept(data: Path) -> None:
    """No upload, no run, no temporary file."""
    assert [p.name for p in (data / "uploads").iterdir()] == []
    assert [p.name for p in (data / "runs").iterdir()] == []


def cli_error(argv: list[str], capsys, tmp_path: Path) -> str:
    """The one line nst stylize prints for these flags (it stops before loading a framework)."""
    code = cli.main(["stylize", "--quiet", "--output", str(tmp_path / "cli.png"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    return err.strip().removeprefix("nst: error: ")


def bad_files(folder: Path) -> dict[str, Path]:
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(buffer, format="PNG")
    files = {
        "text.jpg": b"this is not an image\n",
        "truncated.png": buffer.getvalue()[: len(buffer.getvalue()) // 2],
        "empty.png": b"",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    Image.new("RGB", (8, 8)).save(folder / "tiny.png")
    bomb_png(folder / "bomb.png")
    return {name: folder / name for name in ("text.jpg", "truncated.png", "empty.png", "tiny.png", "bomb.png")}


@pytest.mark.parametrize("role", ["content", "style"])
@pytest.mark.parametrize("case", ["text.jpg", "truncated.png", "empty.png", "tiny.png", "bomb.png"])
def test_a_bad_upload_gets_the_cli_s_line_and_nothing_is_kept(case, role, client, tmp_path, capsys) -> None:
    path = bad_files(tmp_path)[case]
    r = client.post(f"/api/uploads?role={role}&name={case}", content=path.read_bytes())
    assert r.status_code == 400
    detail = r.json()["detail"]
    expected = cli_error([f"--{role}", str(path)], capsys, tmp_path)
    assert detail == expected.replace(repr(str(path)), repr(case)), (detail, expected)
    nothing_kept(tmp_path / "data")


@pytest.mark.parametrize("chunked", [False, True])
def test_an_upload_over_the_limit_is_refused_whole(chunked, client, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(intake, "MAX_UPLOAD_BYTES", 1000)
    body = b"\x89PNG" + b"x" * 3000
    content = (body[i : i + 500] for i in range(0, len(body), 500)) if chunked else body  # no Content-Length
    r = client.post("/api/uploads?name=big.png", content=content)
    assert r.status_code == 413 and r.json()["detail"] == "the upload is larger than the limit of 1,000 bytes"
    nothing_kept(tmp_path / "data")


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "LA", "P"])
def test_odd_image_modes_are_accepted(mode, client, tmp_path) -> None:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 56, 3), np.uint8)).convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG" if mode == "CMYK" else "PNG")
    r = client.post("/api/uploads?role=style&name=odd", content=buffer.getvalue())
    assert r.status_code == 201, r.text
    meta = r.json()
    assert (meta["width"], meta["height"]) == (56, 40) and store.UPLOAD_ID.match(meta["id"])
    assert sorted(p.name for p in (tmp_path / "data" / "uploads").iterdir()) == [
        f"{meta['id']}.img",
        f"{meta['id']}.json",
    ]


@pytest.mark.parametrize(
    "settings,flags",
    [
        ({"steps": 0}, ["--steps", "0"]),
        ({"lr": -1.0}, ["--lr", "-1"]),
        ({"size": [8, 48]}, ["--size", "8", "48"]),
        ({"precision": "bf16", "dtype": "float64"}, ["--precision", "bf16", "--dtype", "float64"]),
        ({"lr_decay_factor": 2.0}, ["--lr-decay-factor", "2"]),
        ({"style_layers": "conv9_9"}, None),
    ],
)
def test_bad_settings_get_the_cli_s_line_and_no_run(settings, flags, client, tmp_path, capsys) -> None:
    r = client.post("/api/runs", json={"backends": ["torch"], "settings": settings})
    assert r.status_code == 400
    if flags is not None:
        assert r.json()["detail"] == cli_error(flags, capsys, tmp_path)
    else:
        assert "conv9_9" in r.json()["detail"]
    nothing_kept(tmp_path / "data")


def test_a_run_too_large_for_memory_is_refused_as_the_cli_refuses_it(client, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("NST_MEMORY_LIMIT", str(1.5e9))
    r = client.post("/api/runs", json={"backends": ["mxnet"], "settings": {"size": [2000, 3000]}})
    assert r.status_code == 400
    expected = cli_error(["--backend", "mxnet", "--size", "2000", "3000"], capsys, tmp_path)
    assert r.json()["detail"] == expected and "GiB are available" in expected
    nothing_kept(tmp_path / "data")


def test_photoreal_sizes_and_unknown_presets_get_the_cli_s_lines(client, tmp_path, capsys) -> None:
    r = client.post("/api/runs", json={"preset": "photoreal-hrnet", "settings": {"size": [30, 48]}})
    code = cli.main(["photoreal", "--size", "30", "48", "--output", str(tmp_path / "p.png")])
    assert code == 2 and r.status_code == 400
    assert capsys.readouterr().err.strip() == f"nst: error: {r.json()['detail']}"
    r = client.post("/api/runs", json={"preset": "nope"})
    with pytest.raises(UserError) as refused:
        presets.get("nope")
    assert r.status_code == 400 and r.json()["detail"] == str(refused.value)
    nothing_kept(tmp_path / "data")


@pytest.mark.parametrize(
    "settings",
    [{"output": "/tmp/x.png"}, {"log": "../x.json"}, {"weights": "/etc/passwd"}, {"init": "/etc/hostname"}],
)
def test_settings_that_name_files_cannot_be_given(settings, client, tmp_path) -> None:
    r = client.post("/api/runs", json={"backends": ["torch"], "settings": settings})
    assert r.status_code == 400 and r.json()["detail"].count("\n") == 0
    nothing_kept(tmp_path / "data")


def test_an_unknown_backend_is_one_line(client) -> None:
    r = client.post("/api/runs", json={"backends": ["tensorflow"]})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("backends.0: Input should be 'torch', 'mxnet' or 'jax'")


def test_no_name_or_id_from_a_client_reaches_outside_the_data_folder(client, tmp_path) -> None:
    get_backend("torch")
    data = tmp_path / "data"
    before = sorted(p for p in tmp_path.rglob("*") if data not in p.parents and p != data)
    image = io.BytesIO()
    Image.new("RGB", (40, 40), "teal").save(image, format="PNG")
    for name in ("../../evil.png", "/etc/evil.png", "..\\..\\evil.png", "evil\x00.png"):
        r = client.post("/api/uploads", params={"name": name}, content=image.getvalue())
        assert r.status_code == 201 and "/" not in r.json()["name"] and "\\" not in r.json()["name"]
    upload = r.json()["id"]
    run = client.post("/api/runs", json={"backends": ["torch"], "content": upload, "settings": TINY}).json()
    for bad in ("../../../etc/passwd", "sample:../../../etc/passwd", "u" + "0" * 16, "uploads/" + upload):
        r = client.post("/api/runs", json={"backends": ["torch"], "content": bad, "settings": TINY})
        assert r.status_code == 400, bad
    for url in (
        "/api/runs/..%2F..%2Fetc%2Fpasswd",
        "/api/runs/20260101-000000-abcdef",
        f"/api/runs/{run['id']}/..%2F..%2F/preview",
        f"/api/runs/{run['id']}/torch/files/..%2Frequest",
        f"/api/runs/{run['id']}/inputs/..%2Frequest.json",
        f"/api/runs/{run['id']}/comparison/..%2F..%2Frequest",
        "/api/samples/..%2F..%2F..%2Fsetup.py",
        "/static/..%2F..%2Fapp.py",
        "/static/../runs.py",
    ):
        r = client.get(url)
        assert r.status_code in (400, 404, 422) and "Traceback" not in r.text, url
    after = sorted(p for p in tmp_path.rglob("*") if data not in p.parents and p != data)
    assert after == before
    assert not [p for p in data.rglob("*") if "evil" in p.name]
    with pytest.raises(UserError, match="outside the data folder"):
        store.inside(data, "runs", "..", "..", "x")
    with pytest.raises(UserError, match="not a run id"):
        store.run_folder(data, "../x")
    json.loads((data / "runs" / run["id"] / "request.json").read_text())  # the run itself was made


def test_a_damaged_run_folder_is_skipped_and_the_others_are_listed(tmp_path, capsys) -> None:
    runs = tmp_path / "data" / "runs"
    (runs / "20260101-000000-abcdef").mkdir(parents=True)
    (runs / "20260101-000000-abcdef" / "request.json").write_text("{}")
    (runs / ".new-20260101-000001-abcdef").mkdir()  # a creation that never finished: removed
    with TestClient(create_app(tmp_path / "data")) as c:
        assert c.get("/api/runs").json() == []
    assert "20260101-000000-abcdef" in capsys.readouterr().err
    assert sorted(p.name for p in runs.iterdir()) == ["20260101-000000-abcdef"]
