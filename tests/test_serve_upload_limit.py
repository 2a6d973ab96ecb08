"""The upload limit nst serve really has (25 MiB, as docs/serve.md says), over HTTP to a real server process on
127.0.0.1: one byte over it is refused in one line, with a Content-Length header and chunked alike, nothing is kept
and the server never holds the body in memory; a valid image of exactly the limit is accepted."""

from __future__ import annotations

import http.client
import io
import json
import struct
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from serve_helpers import require_serve, start_server, stop_server

require_serve()
import httpx  # noqa: E402

LIMIT = 25 * 2**20
CHUNK = 2**20


def padded_png(size: int) -> bytes:
    """A valid 64x64 PNG of exactly `size` bytes: a private ancillary chunk, which readers skip, pads it."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 120, 200)).save(buffer, format="PNG")
    png = buffer.getvalue()
    end = png.rindex(b"IEND") - 4  # the IEND chunk's length field
    pad = b"\0" * (size - len(png) - 12)  # a chunk is its length, type and CRC (12 bytes) around its data
    chunk = struct.pack(">I", len(pad)) + b"paDd" + pad + struct.pack(">I", zlib.crc32(b"paDd" + pad))
    return png[:end] + chunk + png[end:]


def post(url: str, body: bytes, chunked: bool) -> tuple[int, dict]:
    """POST an upload by http.client: with Content-Length, or chunked (no length); the status and JSON."""
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=120)
    try:
        if chunked:
            parts = (body[i : i + CHUNK] for i in range(0, len(body), CHUNK))
            conn.request("POST", "/api/uploads?name=big.png", body=parts, encode_chunked=True)
        else:
            conn.request("POST", "/api/uploads?name=big.png", body=body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def peak_memory(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def files(folder: Path) -> list[str]:
    """Every file and folder under a folder, relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def server(tmp_path):
    """A real `nst serve` on 127.0.0.1: (process, URL, data folder), after one request (its imports are done)."""
    data = tmp_path / "data"
    proc, url = start_server(data)
    try:
        httpx.get(f"{url}/api/options", timeout=30).raise_for_status()
        yield proc, url, data
    finally:
        stop_server(proc)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_one_byte_over_the_limit_is_refused_and_neither_kept_nor_held_in_memory(chunked, server) -> None:
    proc, url, data = server
    before, peak = files(data), peak_memory(proc.pid)
    status, answer = post(url, padded_png(LIMIT + 1), chunked)  # a valid image: only its size is wrong
    assert (status, answer) == (413, {"detail": f"the upload is larger than the limit of {LIMIT:,} bytes"})
    assert files(data) == before and not any((data / "uploads").iterdir())
    assert peak_memory(proc.pid) - peak < LIMIT // 2  # held whole, the body alone would add LIMIT
    assert httpx.get(f"{url}/api/options", timeout=30).json()["max_upload_bytes"] == LIMIT  # what the page says


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_valid_image_of_exactly_the_limit_is_accepted(chunked, server) -> None:
    _, url, data = server
    status, meta = post(url, padded_png(LIMIT), chunked)
    assert status == 201, meta
    assert (meta["name"], meta["width"], meta["height"]) == ("big.png", 64, 64)
    assert (data / "uploads" / f"{meta['id']}.img").stat().st_size == LIMIT
