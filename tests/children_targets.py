"""Functions tests/test_children.py runs in a fresh process through common.jobs.children (module-level, as the
child imports this module by its name): each does one thing a child can do, and nothing else."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from common.core.errors import UserError
from common.jobs.lifecycle import Notice, Send


def echo(spec: Any, send: Send) -> dict[str, Any]:
    """Say each of spec["say"], then return the spec."""
    for message in spec["say"]:
        send(Notice(message))
    return {"got": spec}


def refuses(spec: Any, send: Send) -> None:
    """Refuse the spec, as bad input is refused."""
    raise UserError(f"no such thing as {spec!r}")


def breaks(spec: Any, send: Send) -> None:
    """Fail with a bug."""
    raise RuntimeError("broken on purpose")


def vanishes(spec: Any, send: Send) -> None:
    """Print a line, then end at once with exit code 5: no End is ever sent."""
    print("last words before vanishing", file=sys.stderr, flush=True)
    os._exit(5)


def waits(spec: Any, send: Send) -> None:
    """Say it is ready, then wait until a signal ends it (it is no job: nothing catches SIGINT)."""
    send(Notice("ready"))
    while True:
        time.sleep(0.05)
