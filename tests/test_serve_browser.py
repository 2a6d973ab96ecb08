"""The page of nst serve in a real browser: headless Chromium (Debian's chromium and chromium-driver, driven by
selenium) on a real server at 127.0.0.1. A run on every backend, checked against the run records and the results;
stop, resume and a server that stops and comes back with the page open (the page says so, offers nothing that needs
the server, reconnects and shows the run as the server has it); the URL's #run naming the run shown; and on a
390 px wide screen, errors where the user acted, in the words of the page's fields, and nothing wider than it.

Skipped only where Chromium is missing and NST_REQUIRE_BROWSER is not 1; .ci/run installs it and sets it."""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import numpy as np
import pytest
from conftest import BACKEND_NAMES, get_backend
from PIL import Image
from serve_helpers import (
    SERVE,
    Browser,
    browser_missing,
    choose_backends,
    fill,
    first_line,
    require_serve,
    run_in_page,
    spawn,
    start_server,
    stop_server,
    wait_for,
)

require_serve()

LOSSES = ("content", "style", "tv", "total")
PHONE = (390, 844)


@dataclass
class Served:
    """A server on 127.0.0.1 (restartable on its port) and a headless Chromium."""

    driver: object
    url: str
    data: Path
    proc: Popen

    def restart(self) -> None:
        """A new server on the same port and data folder (the old one stopped)."""
        port = self.url.rsplit(":", 1)[1]
        self.proc = spawn([*SERVE, "--port", port, "--data-dir", str(self.data)])
        line = first_line(self.proc)
        assert f"{self.url}/" in line, line

    def api(self, path: str) -> dict:
        """GET from the API, as any client would."""
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture
def page(tmp_path):
    """A Served: a server over tmp_path/data and a headless Chromium (both ended at the end)."""
    missing = browser_missing()
    if missing and os.environ.get("NST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NST_REQUIRE_BROWSER=1 but the browser cannot be driven: {missing}")
    if missing:
        pytest.skip(missing)
    for name in BACKEND_NAMES:
        get_backend(name)
    proc, url = start_server(tmp_path / "data")
    served = Served(None, url, tmp_path / "data", proc)
    try:
        with Browser() as driver:
            served.driver = driver
            yield served
    finally:
        stop_server(served.proc)


def shown(driver, element_id: str) -> tuple[float, str]:
    """A number on the page: its exact value (data-value) and its text."""
    element = driver.find_element("id", element_id)
    return float(element.get_attribute("data-value")), element.text


def pixels(driver, element_id: str, size: tuple[int, int]) -> np.ndarray:
    """The RGB pixels an <img> of the page shows, read back through a canvas."""
    h, w = size
    data = driver.execute_script(
        f"const img = document.getElementById('{element_id}'), c = document.createElement('canvas');"
        f"c.width = {w}; c.height = {h}; const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);"
        f"return Array.from(ctx.getImageData(0, 0, {w}, {h}).data);"
    )
    return np.array(data, np.uint8).reshape(h, w, 4)[..., :3]


def text(driver, element_id: str) -> str:
    """An element's text as the page holds it (hidden or not)."""
    return driver.execute_script(f"return document.getElementById('{element_id}').textContent")


def open_page(driver, url: str, hash_: str = "") -> None:
    driver.get(f"{url}/{hash_}")
    wait_for(driver, "document.querySelectorAll('#preset option').length > 1", 30, "the options to load")


def where(driver, element_id: str, control_id: str) -> dict:
    """Where an element is: inside the viewport or not, and how far below the control it belongs to (px)."""
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]).getBoundingClientRect();"
        "const c = document.getElementById(arguments[1]).getBoundingClientRect();"
        "return {inside: e.height > 0 && e.top >= -1 && e.bottom <= innerHeight + 1"  # 1 px: sub-pixel layout
        " && e.left >= -1 && e.right <= innerWidth + 1, below: Math.round(e.top - c.bottom)};",
        element_id,
        control_id,
    )


def shown_where_acted(driver, element_id: str, control_id: str) -> None:
    """The message is on the screen, right under the control the user used."""
    place = where(driver, element_id, control_id)
    assert place["inside"] and 0 <= place["below"] <= 80, (element_id, place)


def page_width(driver) -> int:
    """How wide the page is, in CSS px (wider than the screen: it scrolls sideways, or a phone zooms out)."""
    return driver.execute_script("return document.documentElement.scrollWidth")


def in_page(driver, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
    """A request from the page itself (same origin): its status and JSON."""
    return driver.execute_async_script(
        "const [method, path, body, done] = arguments;"
        "fetch(path, {method, headers: {'Content-Type': 'application/json'},"
        " body: body === null ? undefined : JSON.stringify(body)})"
        ".then(async (r) => done([r.status, await r.json().catch(() => null)]), (e) => done([0, String(e)]));",
        method,
        path,
        body,
    )


def test_the_page_runs_both_backends_live_and_shows_the_numbers_of_their_records(page, tmp_path) -> None:
    driver, url, data = page.driver, page.url, page.data
    run_id = run_in_page(driver, url, (32, 48), 4, BACKEND_NAMES)  # a pane per backend of the registry
    folder = data / "runs" / run_id
    for name in BACKEND_NAMES:
        record = json.loads((folder / name / "run.json").read_text())
        last = record["history"][-1]
        assert record["status"] == "completed" and last["step"] == 4
        for loss in LOSSES:
            value, text = shown(driver, f"{name}-{loss}")
            assert value == last[loss] and float(text) == pytest.approx(last[loss], rel=1e-5), (name, loss, text)
        seconds, _ = shown(driver, f"{name}-seconds")
        assert seconds == pytest.approx(statistics.median(h["seconds"] for h in record["history"]), rel=1e-12)
        assert driver.find_element("id", f"status-{name}").text.startswith("completed, step 4 of 4")
        result = np.asarray(Image.open(folder / name / "result.png").convert("RGB"))
        assert np.array_equal(pixels(driver, f"img-{name}", (32, 48)), result)  # the picture is the result
        value, _ = shown(driver, f"cmp-{name}-total")
        assert value == last["total"]
    comparison = json.loads((folder / "compare" / "comparison.json").read_text())
    assert shown(driver, "cmp-max-abs")[0] == comparison["difference"]["max_abs"]
    psnr = comparison["difference"]["psnr"]
    assert shown(driver, "cmp-psnr")[0] == psnr and f"{psnr:.2f} dB" in driver.find_element("id", "cmp-psnr").text
    screenshot = tmp_path / "serve.png"
    assert driver.save_screenshot(str(screenshot)) and Image.open(screenshot).size[0] >= 1000


def row(run_id: str) -> str:
    """JavaScript: the jobs the list of runs shows for a run (undefined: no row)."""
    return f"document.querySelector(\"#runs tr[data-run='{run_id}'] .jobs\")?.textContent"


def job_shown(driver, backend: str) -> tuple[str, int]:
    """The state and step the page shows for a backend's job."""
    return tuple(
        driver.execute_script(
            f"const s = document.getElementById('status-{backend}'), n = document.getElementById('{backend}-step');"
            "return [s ? s.dataset.state : null, n ? Number(n.dataset.value) : null];"
        )
    )


def test_the_page_stops_resumes_and_tells_the_truth_when_the_server_stops_and_comes_back(page) -> None:
    driver, url, data = page.driver, page.url, page.data
    open_page(driver, url)
    for field, value in (("size-h", "32"), ("size-w", "48"), ("steps", "60")):
        fill(driver, field, value)
    driver.execute_script("document.getElementById('weights').value = 'random';")
    choose_backends(driver, ["torch"])
    assert driver.find_element("id", "start").text == "Run on torch"
    driver.find_element("id", "start").click()
    wait_for(driver, "document.getElementById('placeholder-torch')", 30, "the run's pane")
    step, placeholder, pictures = driver.execute_script(
        "return [Number(document.getElementById('torch-step').dataset.value),"
        " document.getElementById('placeholder-torch').offsetHeight > 0,"
        " [...document.querySelectorAll('#panes img')].map((i) => i.offsetHeight === 0 || i.naturalWidth > 0)];"
    )
    assert step > 0 or placeholder, "before the first step the pane shows a placeholder"
    assert all(pictures), "no picture is shown that is not there (a broken image)"
    run_id = driver.find_element("id", "run-id").text
    assert driver.execute_script("return location.hash") == f"#{run_id}"

    wait_for(driver, "Number(document.getElementById('torch-step')?.dataset.value) >= 2", 300, "two steps")
    driver.find_element("id", "stop").click()
    wait_for(driver, "document.getElementById('status-torch').dataset.state === 'stopped'", 120, "the stop")
    folder = data / "runs" / run_id / "torch"
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "interrupted" and (folder / "run.ckpt.npz").is_file()
    stopped_at = record["history"][-1]["step"]
    assert job_shown(driver, "torch") == ("stopped", stopped_at) and stopped_at < 60
    link = driver.find_element("id", "checkpoint-torch")
    status, _ = in_page(driver, "GET", link.get_attribute("href").removeprefix(url))
    assert link.text == "Download checkpoint" and status == 200

    driver.find_element("id", "resume").click()
    wait_for(driver, f"Number(document.getElementById('torch-step').dataset.value) > {stopped_at}", 300, "a step more")
    stop_server(page.proc)  # with the page open, while the job runs
    wait_for(driver, "!document.getElementById('offline').hidden", 30, "the page to notice")
    banner = where(driver, "offline", "offline")
    assert banner["inside"] and "not answering" in driver.find_element("id", "offline").text
    for button in ("stop", "resume", "start"):
        assert not driver.find_element("id", button).is_enabled(), f"{button} is offered without a server"
    assert driver.find_element("id", "run-state").text.startswith("last known: ")

    page.restart()
    wait_for(driver, "document.body.dataset.server === 'answering'", 60, "the page to reconnect")
    assert driver.find_element("id", "offline").get_attribute("hidden") is not None
    deadline = time.monotonic() + 600
    while True:  # the page follows the run as the server has it, until it has nothing left to do
        run = page.api(f"/api/runs/{run_id}")
        job = run["jobs"]["torch"]
        if run["terminal"] and job_shown(driver, "torch") == (job["state"], job["step"]):
            break
        assert time.monotonic() < deadline, (run, job_shown(driver, "torch"))
        time.sleep(0.3)
    listed = f"torch {job['state']} ({job['step']}/60)"
    wait_for(driver, f"{row(run_id)} === '{listed}'", 30, "the list of runs to show it")
    if job["state"] != "completed":  # this server leaves a run it stopped for the user to resume
        assert job["resumable"] and driver.find_element("id", "resume").is_enabled()
        driver.find_element("id", "resume").click()
    wait_for(driver, "document.getElementById('status-torch').dataset.state === 'completed'", 600, "the end")
    wait_for(driver, "document.getElementById('chart').dataset.lastStepTorch === '60'", 30, "the chart")
    record = json.loads((folder / "run.json").read_text())
    assert [h["step"] for h in record["history"]] == list(range(1, 61))
    assert shown(driver, "torch-total")[0] == record["history"][-1]["total"]


def test_the_url_names_the_run_shown_and_the_list_follows_the_runs(page) -> None:
    driver, url, data = page.driver, page.url, page.data
    open_page(driver, url)
    ids = []
    for steps in (2, 3):  # two runs the page has not started: the list finds them and follows them to their end
        status, run = in_page(driver, "POST", "/api/runs", {
            "backends": ["torch"], "settings": {"size": [32, 48], "steps": steps, "weights": "random"}})  # fmt: skip
        assert status == 201, run
        ids.append(run["id"])
    first, second = ids
    for run_id, steps in ((first, 2), (second, 3)):
        wait_for(driver, f"{row(run_id)} === 'torch completed ({steps}/{steps})'", 180, f"the list to show {run_id}")

    def shows(run_id: str, steps: int) -> None:
        wait_for(
            driver,
            f"document.getElementById('run-id').textContent === '{run_id}' && !document.getElementById('run').hidden"
            " && !document.getElementById('run-body').hidden && document.getElementById('status-torch')"
            f" && document.getElementById('status-torch').textContent.startsWith('completed, step {steps} of {steps}')",
            30,
            f"run {run_id}",
        )
        assert driver.execute_script("return location.hash") == f"#{run_id}"
        current = driver.find_elements("css selector", "#runs tr[aria-current=true]")
        assert [row.get_attribute("data-run") for row in current] == [run_id]

    driver.execute_script(f"location.hash = '{first}'")
    shows(first, 2)
    driver.execute_script(f"location.hash = '{second}'")
    shows(second, 3)
    driver.back()
    shows(first, 2)
    driver.back()
    wait_for(driver, "document.getElementById('run').hidden", 30, "no run shown")
    driver.forward()
    shows(first, 2)
    for unknown in ("20200101-000000-abcdef", "nonsense"):
        driver.execute_script(f"location.hash = '{unknown}'")
        wait_for(driver, "!document.getElementById('run-missing').hidden", 30, "the message")
        assert driver.find_element("id", "run-missing").text == f"no run with id {unknown}"
        assert driver.find_element("id", "run-id").text == unknown
        assert not driver.find_element("id", "run-body").is_displayed()
    driver.find_element("css selector", f"#runs a[href='#{second}']").click()
    shows(second, 3)
    open_page(driver, url, f"#{first}")  # a new page on a run's URL
    shows(first, 2)

    driver.execute_script(f"location.hash = '{second}'")
    shows(second, 3)
    driver.find_element("css selector", f"#runs button[data-delete-run='{second}']").click()  # the run shown
    wait_for(driver, f"{row(second)} === undefined", 30, "the row to go")
    assert not (data / "runs" / second).exists() and (data / "runs" / first).is_dir()
    assert driver.find_element("id", "run").get_attribute("hidden") is not None
    assert driver.execute_script("return location.hash") == ""


def test_on_a_390_px_screen_errors_show_where_the_user_acted_in_the_words_of_the_page(page, tmp_path) -> None:
    driver, url, data = page.driver, page.url, page.data
    width, height = PHONE
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True}
    )
    open_page(driver, url)
    assert page_width(driver) <= width

    bad, good = tmp_path / "notes.jpg", tmp_path / "photo.png"
    bad.write_text("not a picture\n")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 56, 3), np.uint8)).save(good)
    driver.find_element("id", "content-file").send_keys(str(bad))
    line = wait_for(driver, "document.getElementById('content-error').textContent", 30, "the upload's error")
    assert line == "content image 'notes.jpg' is not an image PIL can read (UnidentifiedImageError)"
    shown_where_acted(driver, "content-error", "content-file")
    driver.find_element("id", "content-file").send_keys(str(good))
    wait_for(driver, "document.getElementById('content-sample').value.startsWith('u')", 30, "the upload")
    assert text(driver, "content-error") == ""  # a good upload clears it
    upload = driver.execute_script("return document.getElementById('content-sample').value")
    assert driver.find_element("css selector", f"#uploads tr[data-upload='{upload}']").text.startswith("photo.png")

    fill(driver, "size-h", "32")  # W left empty: the default, says the page; so a size cannot be sent
    fill(driver, "lr", "fast")
    driver.find_element("id", "start").click()
    message = wait_for(driver, "document.getElementById('run-error').textContent", 30, "the form's check")
    assert "“Size W” is empty" in message and "“Learning rate” must be a number, greater than 0, not “fast”" in message
    assert "--" not in message and "None" not in message
    shown_where_acted(driver, "run-error", "start")
    assert [p.name for p in (data / "runs").iterdir()] == []  # nothing was sent
    fill(driver, "size-w", "48")
    driver.find_element("id", "lr").clear()
    wait_for(driver, "document.getElementById('run-error').textContent === ''", 10, "the corrected form")

    driver.execute_script(
        "document.getElementById('precision').value = 'bf16'; document.getElementById('dtype').value = 'float64';"
    )
    driver.find_element("id", "start").click()
    message = wait_for(driver, "document.getElementById('run-error').textContent", 30, "the server's refusal")
    assert "“Precision” bf16" in message and "“dtype” float64" in message and "--" not in message, message
    shown_where_acted(driver, "run-error", "start")

    driver.execute_script(
        "for (const id of ['precision', 'dtype']) document.getElementById(id).value = '';"
        "document.getElementById('weights').value = 'random';"
    )
    fill(driver, "steps", "2")
    choose_backends(driver, ["torch"])
    driver.find_element("id", "start").click()
    assert text(driver, "run-error") == ""  # a new attempt
    wait_for(driver, "document.getElementById('status-torch')?.dataset.state === 'completed'", 300, "the run")
    wait_for(driver, "document.getElementById('img-torch').naturalWidth === 48", 30, "the picture")
    assert page_width(driver) <= width, "the form, the picture, the chart and the lists fit the screen"
    assert driver.execute_script("return innerWidth") == width  # so nothing made the phone zoom out

    driver.find_element("css selector", f"#uploads button[data-delete-upload='{upload}']").click()
    wait_for(driver, f"!document.querySelector(\"#uploads tr[data-upload='{upload}']\")", 30, "the upload to go")
    assert not list((data / "uploads").glob(f"{upload}*"))
    run_id = driver.find_element("id", "run-id").text
    assert (data / "runs" / run_id / "inputs").is_dir()  # the run keeps its own copy
