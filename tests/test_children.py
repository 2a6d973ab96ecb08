"""The one way to run a job in another process (common/jobs/children.py, its events and states in
common/jobs/lifecycle.py): a real job in a fresh process streams every step to its parent in order and ends with its
Outcome; one stopped by SIGINT reports interrupted with its checkpoint; a refused, failing or vanishing child reports
its one line; and the states and outcomes the page reads, as nst serve, nst batch and the CLI's exit codes use them."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import children_targets as targets
import numpy as np
import pytest
from conftest import BACKEND_NAMES, get_backend
from PIL import Image

from common.core.errors import UserError
from common.jobs import checkpoint, children
from common.jobs.lifecycle import Notice, Outcome, State, Step
from common.jobs.settings import Settings


def job(name: str, files, folder: Path, **extra) -> Settings:
    """A small job writing into folder."""
    values = {"size": (32, 48), "steps": 4, "weights": "random", "quiet": True, **extra}
    return Settings(
        backend=name, content=str(files[0]), style=(str(files[1]),), output=str(folder / "out.png"), **values
    )


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_a_job_in_a_child_streams_every_step_in_order_and_ends_completed(name, image_files, tmp_path) -> None:
    get_backend(name)
    events = []
    end = children.run_job(job(name, image_files, tmp_path), events.append, picture=tmp_path / "picture.png")
    assert (end.outcome, end.code, end.message) == (Outcome.COMPLETED, 0, "")
    assert all(isinstance(event, Step) for event in events), events
    assert [event.record.step for event in events] == [1, 2, 3, 4]
    assert [event.record.as_dict() for event in events] == end.result["history"]  # the events are the record
    assert events[0].picture == events[-1].picture == str(tmp_path / "picture.png")  # first and last step
    picture, result = (np.asarray(Image.open(tmp_path / f)) for f in ("picture.png", "out.png"))
    assert np.array_equal(picture, result)  # the last step's picture is the result
    assert end.result["status"] == "completed" and end.peak_rss > 0


def test_a_job_stopped_by_sigint_reports_interrupted_and_keeps_its_checkpoint(image_files, tmp_path) -> None:
    get_backend("torch")
    s = job("torch", image_files, tmp_path, steps=300)
    child, steps = children.start_job(s), []

    def on_event(event) -> None:
        steps.append(event.record.step)
        if len(steps) == 2:
            child.send_signal(signal.SIGINT)  # as Ctrl-C, or the page's Stop

    end = child.wait(on_event)
    assert (end.outcome, end.code) == (Outcome.INTERRUPTED, 130)
    assert 2 <= len(steps) < 300 and steps == list(range(1, len(steps) + 1))
    assert end.message.startswith(f"interrupted after step {steps[-1]}; wrote {s.output}") and "\n" not in end.message
    assert Path(checkpoint.default_path(s.output)).is_file() and Image.open(s.output).size == (48, 32)
    assert end.outcome.state is State.STOPPED


def test_a_refused_job_reports_the_clis_one_line_and_writes_its_end_file(image_files, tmp_path) -> None:
    s = job("torch", (tmp_path / "missing.png", image_files[1]), tmp_path)
    events = []
    end = children.run_job(s, events.append, end_file=tmp_path / "end.json")
    assert (end.outcome, end.code, events) == (Outcome.REFUSED, 2, [])
    assert end.message == f"content image {str(tmp_path / 'missing.png')!r} does not exist"
    written = json.loads((tmp_path / "end.json").read_text())
    assert written == {"code": 2, "message": end.message, "outcome": "refused"}
    assert end.outcome.state is State.FAILED and not (tmp_path / "out.png").exists()


def test_a_function_in_a_child_returns_its_value_after_its_notices() -> None:
    seen = []
    end = children.run(targets.echo, {"say": ["one", "two"], "n": 1.5}, seen.append)
    assert seen == [Notice("one"), Notice("two")]
    assert (end.outcome, end.result) == (Outcome.COMPLETED, {"got": {"say": ["one", "two"], "n": 1.5}})
    assert end.check("echo") is end


def test_a_failing_child_reports_its_one_line_error(tmp_path) -> None:
    log = tmp_path / "child.log"
    end = children.run(targets.breaks, None, log=log)
    assert (end.outcome, end.code) == (Outcome.FAILED, 1)
    assert end.message == "internal error: RuntimeError: broken on purpose (see child.log)"
    assert "Traceback" in log.read_text()  # the traceback goes to the log, one line to the parent
    with pytest.raises(UserError, match=r"^the target failed: internal error: RuntimeError: broken"):
        end.check("the target")
    refused = children.run(targets.refuses, "x")
    assert (refused.outcome, refused.code, refused.message) == (Outcome.REFUSED, 2, "no such thing as 'x'")


def test_a_child_that_ends_without_its_end_is_described_by_its_exit_code_and_last_line() -> None:
    end = children.run(targets.vanishes, None)
    assert (end.outcome, end.code, end.message) == (Outcome.FAILED, 5, "last words before vanishing")


def test_a_child_that_is_no_job_ends_at_once_on_sigint() -> None:
    child = children.start(targets.waits, None)
    end = child.wait(lambda event: child.send_signal(signal.SIGINT))
    assert end.outcome is Outcome.INTERRUPTED and end.code == -signal.SIGINT


def test_a_child_that_is_no_job_ends_on_sigint_even_where_sigint_came_ignored() -> None:
    """Under nohup or as a shell's background job a process starts with SIGINT ignored, and its children inherit
    that: the parent's SIGINT must still end a child (it would otherwise wait forever)."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        child = children.start(targets.waits, None)
    finally:
        signal.signal(signal.SIGINT, before)
    timer = threading.Timer(60, lambda: child.send_signal(signal.SIGKILL))  # a child that ignored it: fail, not hang
    timer.start()
    try:
        end = child.wait(lambda event: child.send_signal(signal.SIGINT))
    finally:
        timer.cancel()
    assert end.outcome is Outcome.INTERRUPTED and end.code == -signal.SIGINT


def test_only_a_module_level_function_can_run_in_a_child() -> None:
    def local(spec, send) -> None:
        pass

    for target in (local, lambda spec, send: None):
        with pytest.raises(ValueError, match="is not a module-level function"):
            children.start(target, None)


def test_outcomes_follow_the_clis_exit_codes_and_show_as_the_pages_states() -> None:
    codes = {
        0: "completed",
        1: "failed",
        2: "refused",
        3: "diverged",
        130: "interrupted",
        -signal.SIGTERM: "interrupted",
    }
    assert {code: Outcome.of_exit_code(code).value for code in (*codes, -signal.SIGKILL)} == {**codes, -9: "failed"}
    assert {o.value: o.state.value for o in Outcome} == {
        "completed": "completed",
        "interrupted": "stopped",
        "diverged": "diverged",
        "failed": "failed",
        "refused": "failed",
    }
    assert [Outcome.of_status(s) for s in ("completed", "interrupted", "diverged", "odd")] == [
        Outcome.COMPLETED,
        Outcome.INTERRUPTED,
        Outcome.DIVERGED,
        Outcome.FAILED,
    ]
    groups = State.groups()
    assert groups["live"] == ["queued", "starting", "running", "stopping"]
    assert groups["stoppable"] == ["queued", "starting", "running"]
    assert groups["ended"] == ["completed", "stopped", "diverged", "failed", "cancelled"]
    assert f"{State.RUNNING} {Outcome.REFUSED}" == "running refused" and json.dumps([State.QUEUED]) == '["queued"]'
