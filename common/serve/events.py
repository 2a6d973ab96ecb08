"""Progress pushed to the page: a hub that hands each run's events to its listeners, and server-sent events.

Workers' events arrive on threads; each listener is an asyncio queue of the event loop serving one client.
A stream starts with a snapshot of the run (taken under the same lock as every change, so nothing falls between
the snapshot and the first event) and ends with an "end" event once the run has nothing left to do: the page
then closes its EventSource. A client that goes away only removes its queue; the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from .store import clean

KEEPALIVE_SECONDS = 15.0
CLOSE = {"type": "close"}  # sent to every listener when the server shuts down


class Hub:
    """Listeners per run id; publish() may be called from any thread."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = {}
        self._lock = threading.Lock()

    def listen(self, run_id: str) -> asyncio.Queue:
        """A new queue receiving the run's events (call from the event loop)."""
        queue: asyncio.Queue = asyncio.Queue()
        with self._lock:
            self._listeners.setdefault(run_id, []).append((asyncio.get_running_loop(), queue))
        return queue

    def forget(self, run_id: str, queue: asyncio.Queue) -> None:
        """Stop sending to a queue."""
        with self._lock:
            listeners = self._listeners.get(run_id, [])
            listeners[:] = [(loop, q) for loop, q in listeners if q is not queue]
            if not listeners:
                self._listeners.pop(run_id, None)

    def publish(self, run_id: str, event: dict[str, Any]) -> None:
        """Hand an event to every listener of the run."""
        with self._lock:
            listeners = list(self._listeners.get(run_id, []))
        for loop, queue in listeners:
            with contextlib.suppress(RuntimeError):  # that client's loop has closed
                loop.call_soon_threadsafe(queue.put_nowait, event)

    def close_all(self) -> None:
        """End every stream (server shutdown)."""
        with self._lock:
            run_ids = list(self._listeners)
        for run_id in run_ids:
            self.publish(run_id, CLOSE)

    def count(self, run_id: str) -> int:
        """How many clients listen to a run."""
        with self._lock:
            return len(self._listeners.get(run_id, []))


def sse(event: dict[str, Any]) -> bytes:
    """One server-sent event: its type as the event name, the rest as JSON data."""
    return f"event: {event['type']}\ndata: {json.dumps(clean(event), allow_nan=False)}\n\n".encode()


async def stream(hub: Hub, run_id: str, attach: Callable[[], tuple[asyncio.Queue, dict]]) -> AsyncIterator[bytes]:
    """A run's event stream: ``attach()`` listens and takes the snapshot event under the lock that guards every
    change (so no event is lost or doubled between them); then events until "end" or the server closes."""
    queue, first = attach()
    try:
        yield sse(first)
        if first.get("terminal"):
            yield sse({"type": "end"})
            return
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except asyncio.TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if event is CLOSE:
                yield sse({"type": "end", "reason": "the server is shutting down"})
                return
            yield sse(event)
            if event["type"] == "end":
                return
    finally:
        hub.forget(run_id, queue)
