"""What another web site could make the user's browser send nst serve, refused (common/serve/guard.py), against a
real server on 127.0.0.1: a Host that is not the server's (DNS rebinding) gets 421 on every route; a change (POST,
PUT, PATCH, DELETE) from another origin gets 403, while a script without Origin is answered; a JSON body over
64 KiB gets 413 unread; the page refuses more steps than it can finish, the CLI does not.

In real Chromium (Debian's, headless): a page of a second origin, served here on another 127.0.0.1 port (and under
another name mapped to 127.0.0.1, a cross-site one), submits a plain HTML form resuming a run and fetch()es an
upload as text/plain: nothing changes, nothing is stored; the page loaded through a name that resolves to 127.0.0.1
(--host-resolver-rules) is refused, and so is a run it posts; the server's own page still uploads and starts runs.

Skipped only where Chromium is missing and NST_REQUIRE_BROWSER is not 1; .ci/run installs it and sets it."""

from __future__ import annotations

import base64
import http.client
import http.server
import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serve_helpers
from conftest import get_backend
from PIL import Image
from serve_helpers import (
    Browser,
    browser_missing,
    choose_backends,
    require_serve,
    start_server,
    stop_server,
    wait_for,
)
from test_serve_upload_limit import peak_memory

import cli
from common.jobs import flags, stylize

require_serve()

LIMIT = 64 * 2**10
REBIND, ATTACKER = "rebind.test", "attacker.test"  # names Chromium resolves to 127.0.0.1 here
TINY = {"size": [32, 48], "steps": 2, "weights": "random"}


class Server:
    """A real nst serve on 127.0.0.1 (--max-runs 1): its process, port, URL and data folder."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.proc, self.url = start_server(data, "--max-runs", "1")
        self.port = int(self.url.rsplit(":", 1)[1])

    def request(
        self, method: str, path: str, body: bytes | None = None, host: str | None = None, **headers: str
    ) -> tuple[int, dict, dict]:
        """A request by http.client (Host: 127.0.0.1:PORT unless given): status, headers, JSON body ({} if none)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            sent = {"Host": host or f"127.0.0.1:{self.port}", **{k.replace("_", "-"): v for k, v in headers.items()}}
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
            answer = json.loads(data) if response.getheader("content-type") == "application/json" else {}
            return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
        finally:
            conn.close()

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """A request as a script sends it (no Origin): status and JSON."""
        data = json.dumps(body).encode() if body is not None else None
        status, _, answer = self.request(method, path, data, Content_Type="application/json")
        return status, answer

    def files(self, sub: str) -> list[str]:
        """What the data folder holds under sub (uploads, runs), sorted."""
        return sorted(p.name for p in (self.data / sub).iterdir())


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """One server for the module's tests, after a first request (its imports done)."""
    served = Server(tmp_path_factory.mktemp("security") / "data")
    try:
        assert served.api("GET", "/api/options")[0] == 200
        yield served
    finally:
        stop_server(served.proc)


def one_line(answer: dict) -> str:
    """A refusal's detail, checked to be one line."""
    detail = answer.get("detail")
    assert isinstance(detail, str) and detail and "\n" not in detail, answer
    return detail


def png_bytes() -> bytes:
    """A valid 40x32 PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (40, 32), (10, 140, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


# ---- over HTTP


def test_a_host_that_is_not_the_server_s_gets_421_on_every_route(server) -> None:
    run = "20260101-000000-abcdef"
    routes = ["/", "/static/app.js", "/docs", "/openapi.json", "/api/options", "/api/runs", f"/api/runs/{run}/events"]
    wrong = (f"{REBIND}:{server.port}", f"127.0.0.1:{server.port + 1}", "127.0.0.1", f"localhost.:{server.port}")
    for path in routes:
        for host in wrong:
            status, headers, answer = server.request("GET", path, host=host)
            assert status == 421 and "DNS rebinding" in one_line(answer), (path, host, status, answer)
            assert "access-control-allow-origin" not in headers
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"LocalHost:{server.port}"):
        assert [server.request("GET", path, host=host)[0] for path in routes[:-1]] == [200] * (len(routes) - 1), host
    before = server.files("runs")
    body = json.dumps({"backends": ["torch"], "settings": TINY}).encode()
    status, _, answer = server.request("POST", "/api/runs", body, host=f"{REBIND}:{server.port}")
    assert status == 421 and f"Host '{REBIND}:{server.port}'" in one_line(answer)
    assert server.files("runs") == before


def test_a_change_from_another_origin_is_refused_and_a_script_without_one_is_answered(server) -> None:
    own = f"http://127.0.0.1:{server.port}"
    foreign = (
        {"Origin": f"http://{ATTACKER}"},
        {"Origin": f"http://127.0.0.1:{server.port + 1}"},
        {"Origin": f"https://127.0.0.1:{server.port}"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": own},
    )
    run = "20260101-000000-abcdef"
    changes = [("POST", "/api/uploads?name=x.png"), ("POST", "/api/runs"), ("POST", f"/api/runs/{run}/stop")]
    changes += [("POST", f"/api/runs/{run}/resume"), ("DELETE", f"/api/runs/{run}"), ("PUT", "/api/runs")]
    uploads = server.files("uploads")
    for headers in foreign:
        for method, path in changes:
            status, response, answer = server.request(method, path, png_bytes(), **headers)
            assert status == 403 and "another" in one_line(answer), (headers, method, path, status, answer)
            assert "access-control-allow-origin" not in response
    assert server.files("uploads") == uploads
    for headers in ({}, {"Origin": own}, {"Origin": own, "Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}):
        status, _, answer = server.request("POST", "/api/uploads?name=x.png", png_bytes(), **headers)
        assert status == 201, (headers, answer)
        status, _, answer = server.request("POST", f"/api/runs/{run}/stop", **headers)
        assert status in (400, 404) and one_line(answer) == f"no run {run!r}", (headers, answer)  # the route's
    status, _, _ = server.request("GET", "/api/options", Origin=f"http://{ATTACKER}")
    assert status == 200  # a read: the browser keeps its answer from the other site's page (no CORS headers)


def raw_post(server: Server, total: int, chunked: bool) -> tuple[int, dict]:
    """POST /api/runs with a JSON body of `total` bytes by a raw socket, with Content-Length or chunked, however
    soon the server answers (it may close the connection before the body is sent): status and JSON."""
    head = f"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {total}\r\n\r\n"
    piece = b"[" + b"1," * (2**19 - 1) + b"1"  # 1 MiB of a JSON list's items
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(head.encode())
        try:
            for _ in range(total // len(piece)):
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        except OSError:  # the server answered and closed the connection: what is left is never read
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:  # closed with the refused body unread, the server's kernel resets the
            pass  # connection: the answer sent before it is still read, and must be whole (json.loads below)
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_json_body_over_64_kib_is_refused_without_being_read(chunked, server) -> None:
    before, peak = server.files("runs"), peak_memory(server.proc.pid)
    status, answer = raw_post(server, 64 * 2**20, chunked)
    assert status == 413 and f"larger than the limit of {LIMIT:,} bytes" in one_line(answer), answer
    assert peak_memory(server.proc.pid) - peak < 16 * 2**20  # read whole, the body alone would add 64 MiB
    assert server.files("runs") == before
    padded = json.dumps({"backends": []}).encode().ljust(LIMIT)  # exactly the limit: it reaches the route
    status, _, answer = server.request("POST", "/api/runs", padded, Content_Type="application/json")
    assert (status, answer) == (400, {"detail": "choose at least one backend"})


def test_the_page_refuses_more_steps_than_it_can_finish_and_the_cli_takes_them(server, tmp_path) -> None:
    options = server.api("GET", "/api/options")[1]
    assert options["settings"]["steps"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 20000}
    before = server.files("runs")
    for steps in (20001, 10**9, "1000000000"):
        status, answer = server.api("POST", "/api/runs", {"backends": ["torch"], "settings": {**TINY, "steps": steps}})
        assert status == 400 and one_line(answer).startswith("Steps is "), answer
        assert "the page takes at most 20000" in answer["detail"]
    assert server.files("runs") == before
    many = {**TINY, "steps": 20000, "scales": [1.0, 1.0]}  # each stage within the bound, the run twice beyond it
    status, answer = server.api("POST", "/api/runs", {"backends": ["torch"], "settings": many})
    assert status == 400 and "the run would take 40000 steps over its scales" in one_line(answer), answer
    assert server.files("runs") == before
    argv = ["stylize", "--steps", "1000000000", "--weights", "random", "--output", str(tmp_path / "o.png")]
    s = flags.settings_from(vars(cli.build_parser().parse_args(argv))).validated()
    stylize.plan(s, say=lambda line: None)  # every check nst stylize makes before it starts: it takes them
    assert s.steps == 10**9


# ---- in Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Headless Chromium that resolves rebind.test and attacker.test to 127.0.0.1, as a DNS rebinding would."""
    missing = browser_missing()
    if missing and os.environ.get("NST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NST_REQUIRE_BROWSER=1 but the browser cannot be driven: {missing}")
    if missing:
        pytest.skip(missing)
    rules = f"--host-resolver-rules=MAP {REBIND} 127.0.0.1, MAP {ATTACKER} 127.0.0.1"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(serve_helpers, "CHROMIUM_FLAGS", (*serve_helpers.CHROMIUM_FLAGS, rules))
        with Browser() as driver:
            yield driver


class Pages(http.server.BaseHTTPRequestHandler):
    """The second origin: serves the HTML of self.server.pages by path."""

    def do_GET(self) -> None:
        """The page, or 404."""
        page = self.server.pages.get(self.path)
        self.send_response(200 if page else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write((page or "not here").encode())

    def log_message(self, *args) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def second_origin() -> Iterator[http.server.ThreadingHTTPServer]:
    """Another origin on 127.0.0.1 (its own port): a tiny http.server whose .pages the tests fill."""
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    site.pages = {}
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site.shutdown()
        site.server_close()


def cancelled_run(server: Server) -> tuple[str, str]:
    """A resumable run that changes state if resumed: (a run that holds the one worker slot, a cancelled run)."""
    get_backend("torch")
    busy = server.api("POST", "/api/runs", {"backends": ["torch"], "settings": {**TINY, "steps": 5000}})
    queued = server.api("POST", "/api/runs", {"backends": ["torch"], "settings": TINY})
    assert busy[0] == queued[0] == 201, (busy, queued)
    run = server.api("POST", f"/api/runs/{queued[1]['id']}/stop")[1]
    assert run["jobs"]["torch"]["state"] == "cancelled" and run["jobs"]["torch"]["resumable"], run
    return busy[1]["id"], run["id"]


@pytest.mark.parametrize("name", ["127.0.0.1", ATTACKER], ids=["same-site", "cross-site"])
def test_a_page_of_another_origin_can_neither_resume_a_run_nor_upload(name, server, browser, second_origin) -> None:
    busy, run_id = cancelled_run(server)
    try:
        target = f"http://127.0.0.1:{server.port}"
        png = base64.b64encode(png_bytes()).decode()
        second_origin.pages["/evil.html"] = f"""<!doctype html><title>another site</title>
<form id="resume" method="POST" action="{target}/api/runs/{run_id}/resume"><input name="go" value="1"></form>
<script>
window.sent = null;
const png = Uint8Array.from(atob("{png}"), (c) => c.charCodeAt(0));
fetch("{target}/api/uploads?name=cross.png", {{method: "POST", mode: "no-cors", body: png,
  headers: {{"Content-Type": "text/plain"}}}}).then(() => (window.sent = "sent"), (e) => (window.sent = String(e)));
</script>"""
        uploads = server.files("uploads")
        browser.get(f"http://{name}:{second_origin.server_address[1]}/evil.html")
        assert wait_for(browser, "window.sent", 30, "the cross-origin upload") == "sent"
        assert server.files("uploads") == uploads  # nothing stored
        browser.execute_script("document.getElementById('resume').submit();")
        wait_for(browser, f"location.href.startsWith('{target}/') && document.readyState === 'complete'", 30, "form")
        shown = json.loads(browser.find_element("tag name", "body").text)
        assert one_line(shown).startswith(f"refused: POST /api/runs/{run_id}/resume from a page of another ")
        time.sleep(1)  # a resumed job would be queued at once
        job = server.api("GET", f"/api/runs/{run_id}")[1]["jobs"]["torch"]
        assert job["state"] == "cancelled", job  # no state changed
    finally:
        server.api("POST", f"/api/runs/{busy}/stop")


def test_a_page_under_a_name_that_resolves_to_127_0_0_1_is_refused(server, browser) -> None:
    runs = server.files("runs")
    browser.get(f"http://{REBIND}:{server.port}/")
    shown = json.loads(browser.find_element("tag name", "body").text)
    assert one_line(shown).startswith(f"refused: Host '{REBIND}:{server.port}', not an address it serves")
    assert not browser.find_elements("id", "start")  # not the app
    script = """const done = arguments[arguments.length - 1];
const body = JSON.stringify({backends: ["torch"], settings: {size: [32, 48], steps: 1, weights: "random"}});
Promise.all([fetch("/api/runs", {method: "POST", headers: {"Content-Type": "application/json"}, body}),
             fetch("/api/options")])
  .then(async (rs) => done(await Promise.all(rs.map(async (r) => [r.status, (await r.json()).detail]))),
        (e) => done(String(e)));"""
    answers = browser.execute_async_script(script)
    assert [status for status, _ in answers] == [421, 421], answers
    assert all(detail.startswith(f"refused: Host '{REBIND}:{server.port}'") for _, detail in answers)
    assert server.files("runs") == runs


def test_the_server_s_own_page_still_uploads_and_starts_a_run(server, browser, tmp_path) -> None:
    get_backend("torch")
    picture = tmp_path / "mine.png"
    Image.new("RGB", (48, 40), (220, 30, 160)).save(picture)  # bytes no other test uploaded
    for name in ("localhost", "127.0.0.1"):  # both names of the server
        browser.get(f"http://{name}:{server.port}/")
        wait_for(browser, "document.querySelectorAll('#preset option').length > 1", 30, f"the options at {name}")
    uploads, runs = server.files("uploads"), server.files("runs")
    browser.find_element("id", "content-file").send_keys(str(picture))
    deadline = time.monotonic() + 30
    while server.files("uploads") == uploads and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(server.files("uploads")) > len(uploads)  # stored
    for field, value in (("size-h", "32"), ("size-w", "48"), ("steps", "2")):
        browser.find_element("id", field).send_keys(value)
    browser.execute_script("document.getElementById('weights').value = 'random';")
    choose_backends(browser, ["torch"])
    browser.find_element("id", "start").click()
    run_id = wait_for(browser, "document.getElementById('run-id').textContent", 60, "the run")
    assert set(server.files("runs")) - set(runs) == {run_id}
    assert server.api("GET", f"/api/runs/{run_id}")[1]["inputs"]["content"]["name"] == "mine.png"
    server.api("POST", f"/api/runs/{run_id}/stop")
