"""The style-transfer job, from settings to files: the CLI's ``stylize`` (and ``photoreal``) and the Python API's
``stylize()``. A run is planned (plan.py: every refusal, before any framework loads), then run by the one job
pipeline (job.py) with its method: the Gatys pixels (gatys.py) or the HRNet generator (photoreal.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..core.interface import Backend
from . import job
from . import plan as planning
from .gatys import GATYS
from .photoreal import HRNET
from .plan import FILES, ImageSource, Method, Plan
from .run import Observer, Result, Say, warn
from .settings import Settings
from .signals import stop_on_signals

METHODS: Mapping[str, Method] = {GATYS.name: GATYS, HRNET.name: HRNET}


def plan(settings: Settings, say: Say = warn, source: ImageSource = FILES, confine: Path | None = None) -> Plan:
    """Every check a run can be refused for, before any framework loads (plan.make with both methods)."""
    return planning.make(settings, METHODS, say, source, confine)


def stylize(
    settings: Settings, ops: Backend | None = None, say: Say = warn, observer: Observer | None = None
) -> Result:
    """Run one job: plan it (every check first), optimize stage by stage, then write the outputs atomically.

    SIGINT and SIGTERM are caught for the whole job: one that comes while weights load stops the run before
    its first step, one during a step stops it after that step, one while the outputs are written lets them
    finish; each ends with the image, the run record and a checkpoint written, and Interrupted (exit 130).
    ``observer``, if given, is called after every completed step (run.Observer).
    """
    with stop_on_signals() as stop_requested:
        planned = plan(settings, say)
        return job.run(planned, ops, say, stop_requested, observer)
