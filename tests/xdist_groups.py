"""How the suite's two pytest-xdist workers share the tests (pyproject's addopts: -n 2): by groups of whole files.

A test file is one group, run by one worker from start to end, so its module fixtures are computed once (the
parity checks take minutes); every file that starts Ray (test_batch*.py) is in one group, so that no two Ray
instances run at once. The longest groups are handed out first, so that none is left to run alone at the end.
Two workers, not three: with three the Ray tests took up to five times as long and the suite was no faster
(1018 s against 992 s).

xdist's own `--dist loadgroup` cannot do this here: it groups by a suffix it writes into each test's `_nodeid`,
and pytest 9.2 no longer reads that attribute (a node's id comes from `_id`), so with pytest-xdist 3.6 and 3.8
the marks were ignored and one file's tests ran in both workers, each computing its module fixtures.
tests/test_xdist_groups.py runs a small suite both ways.
"""

from __future__ import annotations

from typing import Any

import pytest

# The three groups of minutes (4-7 each in a clean run on the AMD EPYC, 2026-12-01; the rest take under two), first.
# Handing out the ten groups over half a minute longest first was slower (1043 s against 992 s): it ran the heavy
# computing groups side by side, each with two threads, on two cores.
LONGEST = ("test_parity.py", "test_photoreal_drift.py", "ray")


def group(nodeid: str) -> str:
    """The group of a test: "ray" for a file that starts Ray, else its file's name."""
    name = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return "ray" if name.startswith("test_batch") else name


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's scheduler for whole scopes, with group() as the scope of a test and the LONGEST groups first."""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            for scope in reversed(LONGEST):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return ByGroup(config, log)
