"""Running the app on uvicorn: the listening socket, and a shutdown that stops the workers first."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import uvicorn

from ..core.errors import UserError
from .app import create_app


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: a free one), or UserError in one line."""
    if not 0 <= port <= 65535:
        raise UserError(f"--port must be 0 to 65535, not {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UserError(f"--host {host}: {e.strerror}") from e
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)  # from now on a client's connection waits for the server instead of being refused
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host} port {port}: {e.strerror}; give another --port") from e
    return sock


def data_folder(path: str) -> Path:
    """The data folder, created if missing; UserError if it cannot be one."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--data-dir {path!r} is a file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--data-dir {path!r} cannot be created: {e.strerror}") from e
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"--data-dir {path!r} is not writable")
    return folder


class Server(uvicorn.Server):
    """uvicorn's server; on SIGINT or SIGTERM it first tells the manager to stop the workers and close streams."""

    def handle_exit(self, sig: int, frame: object) -> None:
        """Begin the shutdown: workers get SIGINT (they write image, record, checkpoint), streams end."""
        self.config.app.state.manager.begin_shutdown()
        super().handle_exit(sig, frame)


def run(host: str, port: int, data_dir: str, max_runs: int, warning: str | None) -> int:
    """Serve until a signal; the lifespan's end waits for the workers."""
    if max_runs < 1:
        raise UserError(f"--max-runs must be at least 1, not {max_runs}")
    folder = data_folder(data_dir)
    sock = listen(host, port)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    # matplotlib (the comparison's figures) keeps its cache here, not in the home folder
    os.environ.setdefault("MPLCONFIGDIR", str((folder / ".matplotlib").resolve()))
    app = create_app(folder, max_runs, hosts=(host,))
    shown = f"[{host}]" if ":" in host else host
    print(
        f"nst serve: http://{shown}:{sock.getsockname()[1]}/ (API: /docs); runs are kept in {folder.resolve()}; "
        "Ctrl-C stops it (running jobs keep a checkpoint)",
        flush=True,
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    Server(config).run(sockets=[sock])
    return 0
