"""The page of nst serve in a real browser: headless Chromium (Debian's chromium and chromium-driver, driven by
selenium) on a real server at 127.0.0.1. It starts a run on both backends, waits until both pictures and the
chart show the final step, and checks what the page shows against the run records and the results.

Skipped only where Chromium is missing and NST_REQUIRE_BROWSER is not 1; .ci/run installs it and sets it."""

from __future__ import annotations

import json
import os
import statistics

import numpy as np
import pytest
from conftest import get_backend
from PIL import Image
from serve_helpers import Browser, browser_missing, require_serve, run_in_page, start_server, stop_server, wait_for

require_serve()

BOTH = ("torch", "mxnet")
LOSSES = ("content", "style", "tv", "total")


@pytest.fixture
def page(tmp_path):
    """A server on 127.0.0.1 and a headless Chromium: (driver, url, data folder)."""
    missing = browser_missing()
    if missing and os.environ.get("NST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"NST_REQUIRE_BROWSER=1 but the browser cannot be driven: {missing}")
    if missing:
        pytest.skip(missing)
    get_backend("torch"), get_backend("mxnet")
    proc, url = start_server(tmp_path / "data")
    try:
        with Browser() as driver:
            yield driver, url, tmp_path / "data"
    finally:
        stop_server(proc)


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


def test_the_page_runs_both_backends_live_and_shows_the_numbers_of_their_records(page, tmp_path) -> None:
    driver, url, data = page
    run_id = run_in_page(driver, url, (32, 48), 4)
    folder = data / "runs" / run_id
    for name in BOTH:
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


def test_the_page_stops_and_resumes_a_run_and_shows_a_bad_upload_s_line(page, tmp_path) -> None:
    driver, url, data = page
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture\n")
    driver.get(url + "/")
    wait_for(driver, "document.querySelectorAll('#preset option').length > 1", 30, "the options")
    driver.find_element("id", "content-file").send_keys(str(bad))
    line = wait_for(driver, "document.getElementById('error').textContent", 30, "the error line")
    assert line == "content image 'notes.jpg' is not an image PIL can read (UnidentifiedImageError)"
    for field, value in (("size-h", "32"), ("size-w", "48"), ("steps", "40")):
        driver.find_element("id", field).send_keys(value)
    driver.execute_script("document.getElementById('weights').value = 'random';")
    driver.find_element("css selector", "input[value=mxnet]").click()  # torch only
    assert driver.find_element("id", "start").text == "Run on torch"
    driver.find_element("id", "start").click()
    wait_for(driver, "Number(document.getElementById('torch-step')?.dataset.value) >= 2", 120, "two steps")
    driver.find_element("id", "stop").click()
    wait_for(driver, "document.getElementById('status-torch').dataset.state === 'stopped'", 60, "the stop")
    run_id = driver.find_element("id", "run-id").text
    record = json.loads((data / "runs" / run_id / "torch" / "run.json").read_text())
    assert record["status"] == "interrupted" and (data / "runs" / run_id / "torch" / "run.ckpt.npz").is_file()
    assert shown(driver, "torch-step")[0] == record["history"][-1]["step"] < 40
    driver.find_element("id", "resume").click()
    wait_for(driver, "document.getElementById('status-torch').dataset.state === 'completed'", 120, "the end")
    wait_for(driver, "document.getElementById('chart').dataset.lastStepTorch === '40'", 10, "the chart")
    record = json.loads((data / "runs" / run_id / "torch" / "run.json").read_text())
    assert [h["step"] for h in record["history"]] == list(range(1, 41))
    assert shown(driver, "torch-total")[0] == record["history"][-1]["total"]
    assert run_id in driver.find_element("id", "runs").text
