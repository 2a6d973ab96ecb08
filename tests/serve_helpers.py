"""Helpers for nst serve's tests and docs/make_serve_screenshot.py: a real server process on 127.0.0.1, and
headless Chromium (Debian's chromium and chromium-driver) driven by selenium through the page."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def start_server(data_dir: Path, *extra: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`nst serve --port 0` on 127.0.0.1 in a new process; the process and its URL (read from its first line)."""
    argv = [sys.executable, str(ROOT / "cli.py"), "serve", "--port", "0", "--data-dir", str(data_dir), *extra]
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise RuntimeError(f"nst serve did not start: {line}{proc.stderr.read()}")
    return proc, line.split("http://", 1)[1].split("/", 1)[0].join(("http://", ""))


def stop_server(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 120) -> tuple[int, str]:
    """Signal the server and wait for it; its exit code and standard error."""
    if proc.poll() is None:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def require_serve() -> None:
    """Skip a test of nst serve where its extra is not installed, or fail where NST_REQUIRE_SERVE=1 says it is."""
    import importlib.util

    import pytest

    missing = [name for name in ("fastapi", "uvicorn", "httpx") if importlib.util.find_spec(name) is None]
    if missing and os.environ.get("NST_REQUIRE_SERVE") == "1":
        pytest.fail(f"NST_REQUIRE_SERVE=1 but {', '.join(missing)} is not installed: pip install -e '.[all]'")
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: pip install -e '.[serve,dev]'", allow_module_level=True)


def browser_missing() -> str | None:
    """Why headless Chromium cannot be driven here, or None if it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing: apt-get install -y chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install selenium"
    return None


class Browser:
    """Headless Chromium with a fresh profile, closed (and its profile removed) on exit."""

    def __init__(self, width: int = 1400, height: int = 1200) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="nst-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)

    def __enter__(self):
        return self.driver

    def __exit__(self, *exc) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


def wait_for(driver, script: str, timeout: float, what: str):
    """Poll a JavaScript expression in the page until it is truthy; its value (TimeoutError naming what)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script};")
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}; error line: {driver.find_element('id', 'error').text!r}")


def fill(driver, element_id: str, value: str) -> None:
    """Type a value into a form field."""
    field = driver.find_element("id", element_id)
    field.clear()
    field.send_keys(value)


def run_in_page(driver, url: str, size: tuple[int, int], steps: int, weights: str = "random", timeout=300) -> str:
    """Open the page, start a run on both backends and wait until both pictures, the chart and the comparison
    show the final step; the run's id."""
    driver.get(url + "/")
    wait_for(driver, "document.querySelectorAll('#preset option').length > 1", 30, "the options to load")
    fill(driver, "size-h", str(size[0]))
    fill(driver, "size-w", str(size[1]))
    fill(driver, "steps", str(steps))
    driver.execute_script(f"document.getElementById('weights').value = {weights!r};")
    driver.find_element("id", "start").click()
    final = " && ".join(
        f"document.getElementById('img-{b}') && document.getElementById('img-{b}').dataset.step === '{steps}'"
        f" && document.getElementById('img-{b}').dataset.final === 'true'"
        f" && document.getElementById('img-{b}').naturalWidth === {size[1]}"
        f" && document.getElementById('chart').dataset.lastStep{b.capitalize()} === '{steps}'"
        for b in ("torch", "mxnet")
    )
    wait_for(driver, final, timeout, "both pictures and the chart at the final step")
    wait_for(driver, "!document.getElementById('comparison').hidden", 60, "the comparison")
    wait_for(driver, "document.getElementById('heatmap').complete", 30, "the heat map")
    return driver.find_element("id", "run-id").text
