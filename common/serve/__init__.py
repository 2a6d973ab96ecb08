"""`nst serve`: a local web page where the frameworks stylize side by side, over the jobs the CLI runs.

Importing this package imports neither FastAPI nor uvicorn (they come with the ``serve`` extra): only serve()
does, after checking they are there.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from ..core.errors import UserError

EXTRA_MODULES = ("fastapi", "uvicorn", "fastapi_offline")  # fastapi-offline: the API docs' scripts, for offline use
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

ABOUT = {
    "description": "Serve a web page (and its HTTP API, documented at /docs) that runs nst stylize or nst photoreal "
    "on every backend (or those chosen) in worker processes, shows their pictures and loss curves as they go, stops "
    "and resumes them, and compares the results as nst compare does. Listens on 127.0.0.1 only unless told otherwise."
}
# The flags of nst serve: (names, argparse keywords).
FLAGS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--host",), {"default": "127.0.0.1", "help": "address to listen on (default 127.0.0.1: this machine)"}),
    (("--allow-remote",), {"action": "store_true", "help": "allow a --host other than loopback (no login!)"}),
    (("--port",), {"type": int, "default": 8000, "help": "(default 8000; 0 picks a free port)"}),
    (("--data-dir",), {"default": "nst-serve-data", "metavar": "FOLDER", "help": "runs and uploads are kept here"}),
    (("--max-runs",), {"type": int, "default": 2, "metavar": "N", "help": "jobs at once; others queue (default 2)"}),
)


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken install, or an import hook that refuses it
        return False


def check_installed() -> None:
    """UserError naming the extra if FastAPI, uvicorn or fastapi-offline is missing."""
    missing = [name for name in EXTRA_MODULES if not _findable(name)]
    if missing:
        names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
        raise UserError(
            f"nst serve needs {names}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            "pip install 'nst-crossframe[serve]'"
        )


def check_host(host: str, allow_remote: bool) -> str | None:
    """None for a loopback address; for another, UserError unless allowed, and then the warning to print."""
    if host in LOCAL_HOSTS:
        return None
    if not allow_remote:
        raise UserError(
            f"--host {host} would let other machines start runs and read every result (there is no login); "
            "give --allow-remote as well to do that"
        )
    return (
        f"serving on {host}: anyone who can reach this machine on that address can start runs, stop them and "
        "download every result; there is no login"
    )


def serve(host: str, port: int, data_dir: str, max_runs: int, allow_remote: bool = False) -> int:
    """Run the server until SIGINT or SIGTERM; the exit code."""
    check_installed()
    warning = check_host(host, allow_remote)
    from .server import run

    return run(host, port, data_dir, max_runs, warning)
