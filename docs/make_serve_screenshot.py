"""Re-make the pictures of `nst serve` (docs/serve.md): docs/figures/serve.png (a desktop, 1280x900) and
docs/figures/serve_390.png (a phone, 390x844): re-run it whenever the page changes.

    python docs/make_serve_screenshot.py                       # 150x225, 40 steps, both backends
    python docs/make_serve_screenshot.py --size 32 48 --steps 4   # a quick look

Starts `nst serve` on 127.0.0.1 (a free port, a temporary data folder), drives headless Chromium (Debian's
chromium and chromium-driver, through selenium) through a run on both backends with seeded random VGG-19
weights, waits until both pictures, the chart and the comparison show the final step, and saves the whole page as a
1280 px wide screen shows it, then as a 390 px wide one does (the phone's layout: everything in one column).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from serve_helpers import Browser, browser_missing, run_in_page, start_server, stop_server  # noqa: E402

SCREENS = {"serve.png": (1280, 900, False), "serve_390.png": (390, 844, True)}  # width, height, a phone


def whole_page(driver: Any, width: int, height: int, phone: bool, out: Path) -> None:
    """Show the page on a screen of this size (CSS px), then save all of it, as tall as it is."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": phone}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.execute_script("window.dispatchEvent(new Event('resize')); window.scrollTo(0, 0)")
    driver.execute_script("return new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    wide = driver.execute_script("return document.documentElement.scrollWidth")
    if wide > width:
        raise SystemExit(f"make_serve_screenshot: at {width} px the page is {wide} px wide")
    tall = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": max(height, tall)})
    driver.execute_script("return new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    driver.save_screenshot(str(out))


def main() -> int:
    """Run the page once and save the screenshots; the exit code."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", nargs=2, type=int, default=[150, 225], metavar=("H", "W"))
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--out", default=str(HERE / "figures"), help="the folder of serve.png and serve_390.png")
    args = p.parse_args()
    missing = browser_missing()
    if missing:
        print(f"make_serve_screenshot: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="nst-serve-") as data:
        proc, url = start_server(Path(data))
        try:
            with Browser(width=1280, height=900) as driver:
                run_id = run_in_page(driver, url, tuple(args.size), args.steps, timeout=1800)
                for name, (width, height, phone) in SCREENS.items():
                    whole_page(driver, width, height, phone, Path(args.out) / name)
        finally:
            stop_server(proc)
    made = ", ".join(str(Path(args.out) / name) for name in SCREENS)
    print(f"wrote {made} (run {run_id}: {args.size[0]}x{args.size[1]}, {args.steps} steps, both backends)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
