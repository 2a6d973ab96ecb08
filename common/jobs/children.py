"""Running a function in a fresh Python process: how nst compare runs each backend and nst bench measures each
cell, so that the two frameworks' thread pools and memory never meet in one process.

The parent names a target, "package.module:function" under common (e.g. "studies.bench:child"), and a JSON
spec; the child imports the target, calls it with the spec and prints its JSON result as its last line of output.
A UserError in the child becomes its one-line message and exit code, which the parent raises again.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import NSTError, UserError

_MODULE = f"{__package__}.children"  # as imported, also when run as __main__ by python -m
_COMMON = __package__.rpartition(".")[0]  # "common" in a checkout, "nst.common" installed
_CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass
class Finished:
    """What a child returned, and its peak resident memory in bytes."""

    result: Any
    peak_rss: int


def run(target: str, spec: Any, what: str) -> Finished:
    """Call ``target(spec)`` in a fresh process; UserError "<what> failed: <its last line>" if it fails."""
    env = dict(os.environ)
    if _COMMON == "common":  # a checkout: the child imports the same packages from the same folder
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_CHECKOUT), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", _MODULE, target, json.dumps(spec)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    streams: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda name=name, f=f: streams.__setitem__(name, f.read()))
        for name, f in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for reader in readers:  # both pipes are drained, so a chatty child can never block on a full one
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)  # wait4, not wait: it also gives the child's peak memory
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    proc.stdout.close()
    proc.stderr.close()
    out, err = streams["out"], streams["err"]
    if code != 0:
        last = [line for line in err.decode(errors="replace").splitlines() if line.strip()][-1:] or ["no message"]
        raise UserError(f"{what} failed: {last[0]}")
    lines = out.decode().strip().splitlines()
    return Finished(json.loads(lines[-1]) if lines else None, usage.ru_maxrss * 1024)


def main(argv: list[str]) -> int:
    """The child: import the target, call it with the spec, print the JSON result."""
    target, spec = argv[0], json.loads(argv[1])
    module, _, function = target.partition(":")
    try:
        result = getattr(importlib.import_module(f"{_COMMON}.{module}"), function)(spec)
    except NSTError as e:
        print(f"nst: {'error: ' if e.exit_code == 2 else ''}{e}", file=sys.stderr)
        return e.exit_code
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no slow framework shutdown (MXNet's custom-op threads can hang it)
