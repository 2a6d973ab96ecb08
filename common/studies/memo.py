"""Runs made once: nst parity compares every pair of backends, and a backend's training runs are the same in each
of its pairs (its weights, images and seeds are), so a memo keeps each run, by a key naming all it depends on
(parity.inputs_key, the backend, the row, the dtype, the kind of run), for the backend's other pairs."""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

Memo = MutableMapping[tuple, tuple[Any, float]]  # key -> (the run's result, the seconds it took)


def once(memo: Memo | None, key: tuple, compute: Callable[[], Any]) -> tuple[Any, float]:
    """(compute(), the seconds it took), or what ``memo`` holds for ``key`` if it was computed into it before."""
    if memo is not None and key in memo:
        return memo[key]
    start = time.perf_counter()
    result = (compute(), time.perf_counter() - start)
    if memo is not None:
        memo[key] = result
    return result
