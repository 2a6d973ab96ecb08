"""SIGINT and SIGTERM as a request to stop between steps, so that a run ends with its files written."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator

_caught: list[int] = []  # signals received since the outermost stop_on_signals block began
_depth = [0]


def _record_signal(signum: int, frame: object) -> None:
    _caught.append(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Callable[[], bool]]:
    """Within the block, SIGINT and SIGTERM set a flag (the job checks it between steps) instead of killing it.

    Blocks nest: the CLI opens one as soon as it starts, so a signal that comes while the arguments are read
    is seen by the job's own block; the outermost block installs the handlers and puts the old ones back.
    """
    previous = {}
    if _depth[0] == 0:
        _caught.clear()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                previous[sig] = signal.signal(sig, _record_signal)
    _depth[0] += 1
    try:
        yield lambda: bool(_caught)
    finally:
        _depth[0] -= 1
        for sig, old in previous.items():
            signal.signal(sig, old)
