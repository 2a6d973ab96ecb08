"""The one way to run a function, above all a job (common.stylize), in a fresh Python process, its events
(common/jobs/lifecycle.py: a Step per step, a Notice per warning, then its End) streamed back to the parent.

nst serve runs each backend's job this way and streams its steps to the page; nst compare and nst bench run each
backend (or measurement) this way, so that the two frameworks' thread pools and memory never meet in one process.

The parent passes the function itself, ``target(spec, send)``, defined at module level: the child imports the
target's module by its real name (this module names no caller), calls it with the JSON ``spec`` and a ``send`` for
its events, and reports how it ended: an End (outcome, one-line message, the JSON value the target returned) as its
last event. Events travel as JSON lines through a pipe of their own; the child's output goes to a log file, or is
kept for its last line.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import signal
import site
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import NSTError
from . import outputs
from .lifecycle import End, Notice, Outcome, Progress, Send, Step, event_of
from .run import warn
from .settings import Settings
from .signals import stop_on_signals
from .stylize import stylize

_MODULE = f"{__package__}.children"  # as imported, also when run as __main__ by python -m
PR_SET_PDEATHSIG = 1


# --- the parent's side


def _import_root(module: str) -> str | None:
    """The folder that holds a module's top-level package, if a fresh process needs it on its path (not one of the
    site folders, which it searches anyway and which must not come before the standard library)."""
    file = Path(sys.modules[module].__file__).resolve()
    root = file.parents[len(module.split(".")) - 1 + (file.name == "__init__.py")]
    top = module.split(".")[0]
    if not ((root / top).is_dir() or (root / f"{top}.py").is_file()):
        return None  # found through an import hook (an editable install): the child has the same hook
    installed = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    return None if root in installed else str(root)


def _where(target: Callable[..., Any]) -> tuple[str, str]:
    """The module and name a child finds ``target`` by: a module-level function of an importable module."""
    module, name = target.__module__, target.__qualname__
    if module == "__main__" or "<locals>" in name or getattr(sys.modules.get(module), name, None) is not target:
        raise ValueError(f"{module}.{name} is not a module-level function a fresh process can import")
    return module, name


@dataclass
class Child:
    """A function running in a fresh process; wait() streams its events and returns its End."""

    proc: subprocess.Popen
    events: int  # the read end of its event pipe
    output: Any  # the file its output is kept in (None: it goes to a log)

    def send_signal(self, sig: int = signal.SIGINT) -> None:
        """Signal it (SIGINT: a job stops after its step, its files written); nothing if it was reaped."""
        self.proc.send_signal(sig)

    def wait(self, on_event: Callable[[Step | Notice], None] | None = None, lock: Any = None) -> End:
        """Hand each Step and Notice to on_event until it ends; its End (code and peak memory filled in).

        It is reaped under ``lock``, the lock under which others signal it, so that no signal can reach another
        process that got its pid afterwards."""
        end = None
        try:
            with os.fdopen(self.events, "rb") as pipe:
                for line in pipe:
                    with contextlib.suppress(ValueError, TypeError, KeyError):
                        event = event_of(json.loads(line))
                        if isinstance(event, End):
                            end = event
                        elif event is not None and on_event is not None:
                            on_event(event)
        finally:
            os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOWAIT)
            with lock or contextlib.nullcontext():
                _, status, usage = os.wait4(self.proc.pid, 0)
                self.proc.returncode = code = os.waitstatus_to_exitcode(status)
        last = self._last_line()
        end = end or End(Outcome.of_exit_code(code), last or f"it ended with exit code {code}")
        end.code, end.peak_rss = code, usage.ru_maxrss * 1024
        return end

    def _last_line(self) -> str:
        """The last line of its kept output (what a child that died without its End said last)."""
        if self.output is None:
            return ""
        with self.output:
            self.output.seek(0)
            lines = [line for line in self.output.read().decode(errors="replace").splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


def start(
    target: Callable[[Any, Send], Any],
    spec: Any,
    *,
    stoppable: bool = False,
    log: Path | None = None,
    end_file: Path | None = None,
    cwd: Path | None = None,
    threads: int | None = None,
) -> Child:
    """Start ``target(spec, send)`` in a fresh process.

    stoppable: the target is a job that stops on SIGINT/SIGTERM after its step (these are caught from the start);
    otherwise they end the child at once. log: its output is appended there (else kept for its last line).
    end_file: it writes its exit code and message there, as JSON, even when the parent is gone. threads: the
    thread count of its frameworks, unless OMP_NUM_THREADS/MKL_NUM_THREADS are set. It gets SIGTERM when the
    thread that started it ends (Linux), so start it from a thread that outlives it."""
    module, name = _where(target)
    env = dict(os.environ, NST_PARENT_PID=str(os.getpid()))
    roots = dict.fromkeys(filter(None, [_import_root(_MODULE), _import_root(module)]))
    if roots:
        env["PYTHONPATH"] = os.pathsep.join([*roots, *filter(None, [env.get("PYTHONPATH")])])
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if threads else ():
        env.setdefault(variable, str(threads))
    read, write = os.pipe()
    how = {"module": module, "name": name, "fd": write, "stoppable": stoppable, "spec": spec}
    how.update(end_file=end_file and str(end_file), log=log and log.name)
    output = open(log, "ab") if log else tempfile.TemporaryFile()  # noqa: SIM115 (Child.wait closes it)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", _MODULE, json.dumps(how)],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=(write,),
            env=env,
            cwd=cwd,
        )
    except BaseException:
        os.close(read)
        output.close()
        raise
    finally:
        os.close(write)
    if log:
        output.close()  # the child has its own copy
    return Child(proc, read, None if log else output)


def run(target: Callable[[Any, Send], Any], spec: Any, on_event: Send | None = None, **options: Any) -> End:
    """Run ``target(spec, send)`` in a fresh process to its end (start's options), its events to on_event."""
    return start(target, spec, **options).wait(on_event)


def start_job(settings: Settings, picture: Path | None = None, **options: Any) -> Child:
    """Start common.stylize(settings) in a fresh process: a Step per step (its picture written to ``picture`` when
    due), a Notice per warning; SIGINT or SIGTERM stop it as Ctrl-C stops nst stylize (start's other options)."""
    spec = {"settings": settings.as_dict(), "picture": picture and str(picture)}
    return start(stylize_job, spec, stoppable=True, **options)


def run_job(settings: Settings, on_event: Send | None = None, **options: Any) -> End:
    """Run common.stylize(settings) in a fresh process to its end (start_job's options); its End, whose result is
    the run record."""
    return start_job(settings, **options).wait(on_event)


# --- the child's side


def stylize_job(spec: dict[str, Any], send: Send) -> dict[str, Any]:
    """In the child: common.stylize with spec["settings"], as nst stylize runs it (warnings on stderr too); the run
    record."""
    s = Settings.from_dict(spec["settings"])

    def say(message: str) -> None:
        warn(message)
        send(Notice(message))

    total = sum(stage.steps for stage in s.run_stages())
    return stylize(s, say=say, observer=Progress(send, spec.get("picture"), total)).record


class _Pipe:
    """Events as JSON lines to the parent's pipe; a parent that is gone is not an error (the job still ends)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __call__(self, event: Step | Notice | End) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, (json.dumps(event.as_json()) + "\n").encode())


def die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the parent dies; if it already has, stop now (a job checkpoints)."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the parent's own shutdown still stops children
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = os.environ.get("NST_PARENT_PID")
    if parent and os.getppid() != int(parent):
        os.kill(os.getpid(), signal.SIGTERM)


def main(how: dict[str, Any]) -> int:
    """The child: call the target with its spec, report its End (to the pipe, and to end_file); its exit code."""
    send = _Pipe(how["fd"])
    if not how["stoppable"]:  # the parent's SIGINT ends it, even where SIGINT came ignored (nohup, a background job)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    with stop_on_signals() if how["stoppable"] else contextlib.nullcontext():
        die_with_parent()
        try:
            target = importlib.import_module(how["module"])
            for part in how["name"].split("."):
                target = getattr(target, part)
            end = End.of(None, target(how["spec"], send))
        except NSTError as e:
            print(f"nst: {'error: ' if e.exit_code == 2 else ''}{e}", file=sys.stderr)
            end = End.of(e)
        except Exception as e:  # a bug, not the user's doing: its traceback to the output, one line to the parent
            traceback.print_exc()
            end = End.of(e)
            end.message += f" (see {how['log']})" if how["log"] else ""
        if how["end_file"]:
            text = json.dumps({"code": end.code, "message": end.message, "outcome": end.outcome.value}) + "\n"
            with contextlib.suppress(NSTError, OSError):  # unwritable: the parent still has the End
                outputs.write_text(how["end_file"], text, Path(how["end_file"]).name)
        send(end)
        return end.code


if __name__ == "__main__":
    # Run as the module it is (not as __main__, a second copy of its classes), then end without the interpreter's
    # slow shutdown (MXNet's custom-op threads can hang it) and without losing a signal in it.
    code = importlib.import_module(_MODULE).main(json.loads(sys.argv[1]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
