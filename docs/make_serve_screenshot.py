"""Re-make docs/figures/serve.png, the README's picture of `nst serve`: re-run it whenever the page changes.

    python docs/make_serve_screenshot.py                       # 150x225, 40 steps, both backends
    python docs/make_serve_screenshot.py --size 32 48 --steps 4   # a quick look

Starts `nst serve` on 127.0.0.1 (a free port, a temporary data folder), drives headless Chromium (Debian's
chromium and chromium-driver, through selenium) through a run on both backends with seeded random VGG-19
weights, waits until both pictures, the chart and the comparison show the final step, and saves the whole page.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from serve_helpers import Browser, browser_missing, run_in_page, start_server, stop_server  # noqa: E402


def main() -> int:
    """Run the page once and save the screenshot; the exit code."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", nargs=2, type=int, default=[150, 225], metavar=("H", "W"))
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--out", default=str(HERE / "figures" / "serve.png"))
    args = p.parse_args()
    missing = browser_missing()
    if missing:
        print(f"make_serve_screenshot: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="nst-serve-") as data:
        proc, url = start_server(Path(data))
        try:
            with Browser(width=1400, height=1000) as driver:
                run_id = run_in_page(driver, url, tuple(args.size), args.steps, timeout=1800)
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(1400, height + 20)
                driver.execute_script("window.scrollTo(0, 0)")
                driver.save_screenshot(args.out)
        finally:
            stop_server(proc)
    print(f"wrote {args.out} (run {run_id}: {args.size[0]}x{args.size[1]}, {args.steps} steps, both backends)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
