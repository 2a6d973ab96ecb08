"""Helpers for nst serve's tests and docs/make_serve_screenshot.py: a real server process on 127.0.0.1, and
headless Chromium (Debian's chromium and chromium-driver) driven by selenium through the page.

Every server process a test starts goes through spawn(): a watchdog kills it after a deadline whatever happens, the
kernel kills it if the test process dies, and its sockets are read from /proc when it starts and when it is stopped:
one bound to anything but loopback gets it killed at once and the test failed.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from subprocess import Popen

ROOT = Path(__file__).resolve().parents[1]
SERVE = (sys.executable, str(ROOT / "cli.py"), "serve")
DEADLINE = 3600.0  # s: the watchdog kills a server still running after this (docs' screenshot run waits 1800 s)
STARTUP = 120.0  # s: a server that has neither printed its address nor exited by then is killed
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
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
_PR_SET_PDEATHSIG, _SIGKILL = 1, int(signal.SIGKILL)


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGKILL when the thread that started it ends."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, _SIGKILL)


def inet_sockets(pid: int) -> list[tuple[str, str, int, str]]:
    """The process's TCP sockets (listening or connected) and UDP ones, from /proc: (protocol, address, port, state)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:  # closed meanwhile
                continue
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1])
    except FileNotFoundError:  # the process is gone
        return []
    found = []
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        table = Path(f"/proc/{pid}/net/{protocol}")
        for line in table.read_text().splitlines()[1:] if table.exists() else ():
            fields = line.split()  # sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            if fields[9] in inodes:
                address, port = fields[1].split(":")
                found.append((protocol, _address(address), int(port, 16), fields[3]))
    return found


def _address(hexed: str) -> str:
    """An address as /proc/net prints it (32-bit words in host byte order, in hex) as text: 127.0.0.1, ::1."""
    words = (int(hexed[i : i + 8], 16) for i in range(0, len(hexed), 8))
    return str(ipaddress.ip_address(b"".join(struct.pack("=I", word) for word in words)))


def listening(pid: int) -> list[tuple[str, int]]:
    """The (address, port) of every TCP socket the process listens on, sorted."""
    return sorted(
        (address, port) for kind, address, port, state in inet_sockets(pid) if kind[:3] == "tcp" and state == "0A"
    )


def is_loopback(address: str) -> bool:
    """Whether an address is this machine's loopback (127.0.0.0/8, ::1, or 127.x mapped into IPv6)."""
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


def check_loopback(proc: Popen) -> None:
    """If the running process holds a socket bound to anything but loopback: kill it at once, and fail."""
    if proc.poll() is not None:
        return
    sockets = inet_sockets(proc.pid)
    exposed = [
        f"{kind} {address} port {port}" for kind, address, port, _ in sockets if port and not is_loopback(address)
    ]
    if exposed:
        proc.kill()
        proc.wait(timeout=60)
        raise AssertionError(f"nst serve had a socket on {', '.join(exposed)}, not only on loopback: killed")


def _expire(proc: Popen, deadline: float) -> None:
    """The watchdog's end: kill the process if it still runs, and note why."""
    if proc.poll() is None:
        proc.expired = deadline
        proc.kill()


def spawn(argv: list[str], env: dict | None = None, deadline: float = DEADLINE, cwd: Path | None = None) -> Popen:
    """Start a process (its output piped, as text) that a watchdog kills after `deadline` seconds, whatever happens."""
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        preexec_fn=_die_with_parent,
    )
    proc.expired = None
    proc.watchdog = threading.Timer(deadline, _expire, (proc, deadline))
    proc.watchdog.daemon = True
    proc.watchdog.start()
    return proc


def first_line(proc: Popen, timeout: float = STARTUP) -> str:
    """Its first line of output ('' if none); its sockets are checked all along (see check_loopback)."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(proc.stdout.readline()), daemon=True)
    reader.start()
    end = time.monotonic() + timeout
    while reader.is_alive():
        check_loopback(proc)
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError(f"{' '.join(proc.args[1:])} printed nothing and did not exit in {timeout:.0f} s")
        reader.join(0.05)
    check_loopback(proc)
    return got[0]


def start_server(data_dir: Path, *extra: str, env: dict | None = None, deadline: float = DEADLINE) -> tuple[Popen, str]:
    """`nst serve --port 0` (on 127.0.0.1 unless extra says --host) through spawn(); the process and its URL."""
    proc = spawn([*SERVE, "--port", "0", "--data-dir", str(data_dir), *extra], env, deadline)
    line = first_line(proc)
    if "http://" not in line:
        proc.kill()
        proc.watchdog.cancel()
        raise RuntimeError(f"nst serve did not start: {line}{proc.communicate(timeout=60)[1]}")
    return proc, line.split("http://", 1)[1].split("/", 1)[0].join(("http://", ""))


def refused(argv: list[str], cwd: Path | None = None) -> tuple[int, str]:
    """Run what should refuse to serve: its exit code and stderr; one that serves instead is killed, and fails."""
    proc = spawn(argv, deadline=STARTUP, cwd=cwd)
    try:
        line = first_line(proc)
        if line:
            proc.kill()
            proc.communicate(timeout=60)
            raise AssertionError(f"{' '.join(argv[1:])} did not refuse; it printed {line.strip()!r} (killed)")
        _, err = proc.communicate(timeout=STARTUP)
    finally:
        proc.kill()  # nothing if it has ended
        proc.watchdog.cancel()
    return proc.returncode, err


def stop_server(proc: Popen, sig: int = signal.SIGTERM, timeout: float = 120) -> tuple[int, str]:
    """Check its sockets, signal the server and wait for it (killed if it does not end); its exit code and stderr."""
    try:
        check_loopback(proc)
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=60)
            raise
    finally:
        proc.watchdog.cancel()
    if proc.expired:
        raise AssertionError(f"nst serve was still running after {proc.expired:.0f} s: the watchdog killed it")
    return proc.returncode, err


def require_serve() -> None:
    """Skip a test of nst serve where its extra is not installed, or fail where NST_REQUIRE_SERVE=1 says it is."""
    import importlib.util

    import pytest

    missing = [
        name for name in ("fastapi", "uvicorn", "fastapi_offline", "httpx") if importlib.util.find_spec(name) is None
    ]
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


def choose_backends(driver, names: Sequence[str]) -> None:
    """Tick exactly these backends' boxes, by clicking the others' as a user would."""
    for box in driver.find_elements("css selector", "input[name=backend]"):
        if box.is_selected() != (box.get_attribute("value") in names):
            box.click()


def run_in_page(
    driver, url: str, size: tuple[int, int], steps: int, backends: Sequence[str], weights: str = "random", timeout=300
) -> str:
    """Open the page, start a run on these backends and wait until every picture, the chart and the comparison
    show the final step; the run's id."""
    driver.get(url + "/")
    wait_for(driver, "document.querySelectorAll('#preset option').length > 1", 30, "the options to load")
    choose_backends(driver, backends)
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
        for b in backends
    )
    wait_for(driver, final, timeout, "every picture and the chart at the final step")
    wait_for(driver, "!document.getElementById('comparison').hidden", 60, "the comparison")
    wait_for(driver, "document.getElementById('heatmap').complete", 30, "the heat map")
    return driver.find_element("id", "run-id").text
