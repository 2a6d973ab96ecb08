"""The API's documentation pages of nst serve (/docs, linked from the page's header, and /redoc) work offline: they
reference nothing on another site, the server serves everything they load, and Swagger UI renders every route in
headless Chromium that can resolve no other host."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from urllib.parse import urljoin

import pytest
from serve_helpers import (
    CHROMEDRIVER,
    CHROMIUM,
    CHROMIUM_FLAGS,
    browser_missing,
    require_serve,
    start_server,
    stop_server,
)

require_serve()
import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from common.serve.app import create_app  # noqa: E402

REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+""", re.IGNORECASE)


@pytest.fixture
def client(tmp_path):
    """A test client of an app over tmp_path/data."""
    with TestClient(create_app(tmp_path / "data")) as c:
        yield c


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_reference_nothing_elsewhere_and_the_server_serves_all_they_load(page, client) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert not EXTERNAL.search(r.text), EXTERNAL.search(r.text)  # no URL of another site, in any attribute or script
    referenced = REFERENCE.findall(r.text)
    assert len(referenced) >= 2, r.text
    loaded = [urljoin(page, url) for url in referenced]
    for url in loaded:
        asset = client.get(url)
        assert asset.status_code == 200 and asset.content, url
        if url.endswith(".js") and "bundle" not in url and "standalone" not in url:  # the page's own set-up
            assert not EXTERNAL.search(asset.text), asset.text
            loaded += re.findall(r'"url": "([^"]+)"', asset.text)
    assert "/openapi.json" in loaded
    assert client.get("/openapi.json").json()["paths"]


def test_swagger_ui_renders_every_route_in_chromium_that_resolves_no_other_host(tmp_path) -> None:
    missing = browser_missing()
    if missing:
        if os.environ.get("NST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"NST_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    proc, url = start_server(tmp_path / "data")
    profile = tempfile.mkdtemp(prefix="nst-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    offline = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"  # as if offline: no other name resolves
    for flag in (*CHROMIUM_FLAGS, offline, f"--user-data-dir={profile}", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = None
    try:
        paths = httpx.get(f"{url}/openapi.json", timeout=30).json()["paths"]
        routes = sum(len(methods) for methods in paths.values())
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.get(url + "/docs")
        count = "return document.querySelectorAll('.opblock').length"
        deadline = time.monotonic() + 60
        while driver.execute_script(count) < routes and time.monotonic() < deadline:
            time.sleep(0.2)
        assert driver.execute_script(count) == routes  # one block per route: Swagger UI read /openapi.json
        loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(name.startswith(url + "/") for name in loaded), loaded
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        stop_server(proc)
