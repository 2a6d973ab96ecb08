"""A job's life as everyone who runs one sees it: the Step it reports after each step (and the observer that makes
them), the Notice of a warning, its State, and how it ended (an End with its Outcome).

nst serve shows these states and outcomes on its page (GET /api/options sends them, the page reads them there),
common/jobs/children.py carries the events from a job in another process, and an nst batch job in a Ray worker
describes its outcome with the same Outcome.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from PIL import Image

from ..core.errors import NSTError, UserError
from ..core.training import StepRecord
from . import images

PICTURE_SECONDS = 0.5  # a job's picture is written at most this often (and at its first and last step)


class _Value(str, Enum):
    def __str__(self) -> str:
        return self.value  # in f-strings too: "completed", not "State.COMPLETED"


class State(_Value):
    """Where a job is: waiting, on its way, or ended (how: the Outcome's state, or cancelled: it never ran)."""

    QUEUED = "queued"
    STARTING = "starting"  # its process starts: framework, weights
    RUNNING = "running"  # it has reported a step
    STOPPING = "stopping"  # asked to stop: it ends after its step, its files written
    COMPLETED = "completed"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        """Whether the job has nothing left to do."""
        return self not in LIVE

    @classmethod
    def groups(cls) -> dict[str, list[str]]:
        """The states as the page reads them: every one, the live ones, those Stop acts on, the ended ones."""
        return {
            "all": [s.value for s in cls],
            "live": [s.value for s in LIVE],
            "stoppable": [s.value for s in STOPPABLE],
            "ended": [s.value for s in cls if s.ended],
        }


LIVE = (State.QUEUED, State.STARTING, State.RUNNING, State.STOPPING)
STOPPABLE = (State.QUEUED, State.STARTING, State.RUNNING)


class Outcome(_Value):
    """How a job ended: a run record's status (completed, interrupted, diverged), or failed, or refused (bad input)."""

    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    DIVERGED = "diverged"
    FAILED = "failed"
    REFUSED = "refused"

    @classmethod
    def of_exit_code(cls, code: int) -> Outcome:
        """The outcome an exit code says (the CLI's codes; killed by SIGINT or SIGTERM: interrupted)."""
        interrupted = (130, -signal.SIGINT, -signal.SIGTERM)
        known = {0: cls.COMPLETED, 2: cls.REFUSED, 3: cls.DIVERGED}
        return cls.INTERRUPTED if code in interrupted else known.get(code, cls.FAILED)

    @classmethod
    def of_status(cls, status: Any) -> Outcome:
        """The outcome a run record's status says (failed for anything else)."""
        return cls(status) if status in (cls.COMPLETED, cls.INTERRUPTED, cls.DIVERGED) else cls.FAILED

    @property
    def state(self) -> State:
        """The state a job that ended so is in."""
        shown = {Outcome.INTERRUPTED: State.STOPPED, Outcome.REFUSED: State.FAILED}
        return shown[self] if self in shown else State(self.value)


@dataclass(frozen=True)
class Step:
    """One step of a running job: its record (step, stage, losses, lr, seconds) and, if it wrote its current
    picture this step, where."""

    record: StepRecord
    picture: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The event as JSON."""
        return {"type": "step", "record": self.record.as_dict(), "picture": self.picture}


@dataclass(frozen=True)
class Notice:
    """A warning the job printed (a one-line message)."""

    message: str

    def as_json(self) -> dict[str, Any]:
        """The event as JSON."""
        return {"type": "warning", "message": self.message}


@dataclass
class End:
    """How a job ended: its outcome, its one-line message ("" if it completed), what it returned, its exit code
    and (in the parent) its peak resident memory in bytes."""

    outcome: Outcome
    message: str = ""
    result: Any = None
    code: int = 0
    peak_rss: int = 0

    @classmethod
    def of(cls, error: BaseException | None, result: Any = None) -> End:
        """The end of a job that returned ``result`` or raised ``error`` (an NSTError: its exit code and line)."""
        if error is None:
            return cls(Outcome.COMPLETED, "", result, 0)
        if isinstance(error, NSTError):
            return cls(Outcome.of_exit_code(error.exit_code), str(error), None, error.exit_code)
        return cls(Outcome.FAILED, f"internal error: {type(error).__name__}: {error}", None, 1)

    def as_json(self) -> dict[str, Any]:
        """The event as JSON."""
        return {"type": "end", "outcome": self.outcome.value, "message": self.message, "result": self.result}

    def check(self, what: str) -> End:
        """This end if the job completed, else UserError "<what> failed: <its message>"."""
        if self.outcome is not Outcome.COMPLETED:
            raise UserError(f"{what} failed: {self.message}")
        return self


Send = Callable[[Step | Notice], None]


def event_of(data: Any) -> Step | Notice | End | None:
    """The event a JSON line held, or None if it holds none."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "step":
        return Step(StepRecord(**data["record"]), data.get("picture"))
    if kind == "warning":
        return Notice(str(data.get("message", "")))
    if kind == "end":
        return End(Outcome(data["outcome"]), str(data.get("message", "")), data.get("result"))
    return None


class Progress:
    """A job's observer: a Step per step, with its picture written when due (its first and last step, and otherwise
    at most every PICTURE_SECONDS)."""

    def __init__(self, send: Send, picture: str | None, total_steps: int) -> None:
        self.send, self.picture, self.total_steps, self.last = send, picture, total_steps, -float("inf")

    def __call__(self, record: StepRecord, picture: Callable[[], Image.Image]) -> None:
        """Report one step."""
        now, first = time.monotonic(), self.last == -float("inf")
        due = self.picture is not None and (
            first or record.step >= self.total_steps or now - self.last >= PICTURE_SECONDS
        )
        if due:
            images.save_image(picture(), self.picture)
            self.last = now
        self.send(Step(record, self.picture if due else None))
