"""Ray, imported only when a batch runs, and a local Ray instance whose traffic stays on 127.0.0.1.

By default Ray 2.60 binds to and connects through the machine's primary interface address even for a purely
local instance, and its head process asks the cloud metadata address (169.254.169.254) which cloud it runs on.
A local instance started here does neither:

- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes Ray use 127.0.0.1 as the node address (it must be set before
  ``ray`` is imported: Ray reads it into a constant then);
- ``RAY_USAGE_STATS_ENABLED=0``, and any usage report that is still attempted goes to a closed loopback port;
- the dashboard head, which Ray starts even with ``include_dashboard=False``, probes the cloud metadata address
  unless ``~/ray_bootstrap_config.yaml`` exists: Ray's processes get a HOME of their own (a temporary folder
  holding an empty one), and the workers get the real HOME back through their runtime environment;
- an authentication token of this process's own in that folder (``RAY_AUTH_TOKEN_PATH``), so nothing is
  written to ``~/.ray``.

That folder (``nst-ray-XXXXXXXX`` in TMPDIR if its path is short, else in /tmp) holds Ray's session, logs and
sockets, the token and the workers' temporary files, and is removed at the end. A driver killed outright cannot
remove it: the folder holds a lock file its process keeps locked while it lives (the kernel drops the lock when the
process dies, however it dies), and the next local instance removes every such folder whose lock is free, never
one of a live process.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from ..core.errors import BackendUnavailable

EXTRA = "nst batch needs Ray, which is not installed: pip install 'nst-crossframe[batch]'"
LOOPBACK = "127.0.0.1"
CLOSED_PORT_URL = "http://127.0.0.1:9/"  # the discard port: nothing listens there
OBJECT_STORE_BYTES = 512 * 2**20
FOLDER_PREFIX = "nst-ray-"
# Ray's socket paths (107 bytes at most) are the root, then up to 86: /nst-ray-XXXXXXXX/r/session_DATE_PID/sockets/..
SHORT_ROOT = 20
OWNER_LOCK = "owner.lock"  # locked by the process whose instance uses the folder, for as long as it lives
_active: list[LocalRay] = []  # the local instance this process started and has not shut down yet
# One token per process: Ray's core reads it once, so every instance this process starts must use the same one.
_TOKEN = secrets.token_hex(32)


def require_ray() -> None:
    """BackendUnavailable (exit 2) naming the pip extra if Ray is not installed; imports nothing."""
    try:
        found = importlib.util.find_spec("ray") is not None
    except ImportError:
        found = False
    if not found:
        raise BackendUnavailable(EXTRA)


def import_ray() -> ModuleType:
    """The ray module, or BackendUnavailable (exit 2) naming the pip extra that installs it."""
    try:
        import ray
    except ImportError as e:
        raise BackendUnavailable(EXTRA) from e
    return ray


def _set(env: dict[str, str | None]) -> dict[str, str | None]:
    """Set (None: remove) environment variables; return their previous values."""
    previous = {key: os.environ.get(key) for key in env}
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return previous


@contextlib.contextmanager
def loopback_environment(folder: Path) -> Iterator[dict[str, str]]:
    """Within the block, Ray processes started from this process use only 127.0.0.1 (see the module's doc).

    Yields the environment variables Ray's workers need on top (the real HOME; a TMPDIR inside ``folder``).
    Everything is put back on leaving.
    """
    home = folder / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "ray_bootstrap_config.yaml").write_text("{}\n", encoding="utf-8")
    token = folder / "auth_token"
    token.write_text(_TOKEN, encoding="utf-8")
    token.chmod(0o600)
    real_home = os.environ.get("HOME") or str(Path.home())
    previous = _set(
        {
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_USAGE_STATS_REPORT_URL": CLOSED_PORT_URL,
            "RAY_AUTH_TOKEN_PATH": str(token),
            "RAY_AUTH_TOKEN": None,
            "HOME": str(home),
        }
    )
    if "ray" in sys.modules:  # imported before the variable was set: it already read it into this constant
        sys.modules["ray"]._private.ray_constants.ENABLE_RAY_CLUSTER = False
    scratch = folder / "tmp"  # the workers' temporary files: removed with the folder, even those of killed workers
    scratch.mkdir(exist_ok=True)
    try:
        yield {"HOME": real_home, "TMPDIR": str(scratch)}
    finally:
        _set(previous)


def temporary_root() -> str:
    """Where local instances' folders go: the temporary folder (TMPDIR) if its path is short enough for Ray's
    socket paths below it, else /tmp."""
    root = tempfile.gettempdir()
    return root if len(os.fsencode(root)) <= SHORT_ROOT or not os.path.isdir("/tmp") else "/tmp"


@contextlib.contextmanager
def owned_folder() -> Iterator[Path]:
    """A new folder for a local instance's files, locked as this process's while it lives; removed on leaving."""
    folder, fd = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=temporary_root())), -1
    try:
        fd = os.open(folder / ".owner", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(folder / ".owner", folder / OWNER_LOCK)  # named so only once locked: a cleaner skips it before
    except BaseException:
        if fd >= 0:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def remove_stale_folders() -> list[Path]:
    """Remove the folders of this user's local instances whose process is dead (their lock is free); return them."""
    removed = []
    with contextlib.suppress(OSError), os.scandir(temporary_root()) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.name.startswith(FOLDER_PREFIX) and _stale(entry):
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed.append(Path(entry.path))
    return removed


def _stale(entry: os.DirEntry) -> bool:
    """Whether a folder is this user's and its owner's lock is free (a folder without the lock is not known)."""
    if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
        return False
    fd = os.open(os.path.join(entry.path, OWNER_LOCK), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: its owner is dead (no live process takes it again)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


class LocalRay:
    """A Ray instance on this machine for one batch: started on entering, shut down and cleaned up on leaving."""

    def __init__(self, num_cpus: int) -> None:
        self.num_cpus = num_cpus
        self.worker_env: dict[str, str] = {}
        self.folder: Path | None = None  # Ray's session, the token, the workers' temporary files
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> LocalRay:
        remove_stale_folders()  # those of drivers killed outright
        self.folder = folder = self._stack.enter_context(owned_folder())
        try:
            self.worker_env = self._stack.enter_context(loopback_environment(folder))
            ray = import_ray()
            ray.init(
                address="local",
                num_cpus=self.num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
                object_store_memory=OBJECT_STORE_BYTES,
                _temp_dir=str(folder / "r"),
            )
            self._stack.callback(ray.shutdown)
            _active.append(self)
            self._stack.callback(_active.remove, self)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()


@contextlib.contextmanager
def connect(address: str | None, num_cpus: int) -> Iterator[dict[str, str]]:
    """Ray for one batch: the instance already running in this process, a cluster at ``address``, or a new
    local instance on 127.0.0.1 (shut down at the end). Yields extra environment variables for the workers."""
    ray = import_ray()
    if ray.is_initialized():
        yield _active[-1].worker_env if _active else {}
    elif address:
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        try:
            yield {}
        finally:
            ray.shutdown()
    else:
        with LocalRay(num_cpus) as local:
            yield local.worker_env
