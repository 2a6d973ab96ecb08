"""The safety net every nst serve test runs under (serve_helpers): the sockets of a process read from /proc, the
check that kills a server bound to anything but loopback, and the watchdog that kills one past its deadline."""

from __future__ import annotations

import os
import re
import signal
import socket
import sys

import pytest
import serve_helpers
from serve_helpers import inet_sockets, is_loopback, listening, spawn, stop_server

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_listening_reads_this_process_s_sockets_from_the_kernel() -> None:
    listener, udp = socket.socket(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with listener, udp:
        for s in (listener, udp):
            s.bind(("127.0.0.1", 0))
        listener.listen()
        ports = [s.getsockname()[1] for s in (listener, udp)]
        mine = {(kind, address, port) for kind, address, port, _ in inet_sockets(os.getpid()) if port in ports}
        assert mine == {("tcp", "127.0.0.1", ports[0]), ("udp", "127.0.0.1", ports[1])}
        assert [entry for entry in listening(os.getpid()) if entry[1] in ports] == [("127.0.0.1", ports[0])]
        listener.close()
        assert not [entry for entry in listening(os.getpid()) if entry[1] in ports]


def test_listening_reads_ipv6_addresses() -> None:
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with s:
        s.listen()
        port = s.getsockname()[1]
        assert [entry for entry in listening(os.getpid()) if entry[1] == port] == [("::1", port)]


def test_only_loopback_addresses_count_as_loopback() -> None:
    assert all(map(is_loopback, ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "fe80::1", "::ffff:10.0.0.1")))


def test_a_socket_off_loopback_gets_the_process_killed_at_once(monkeypatch) -> None:
    proc = spawn(SLEEPER, deadline=120)
    try:  # a real process, but its socket table is faked: a test must not bind anything but loopback
        monkeypatch.setattr(serve_helpers, "inet_sockets", lambda pid: [("tcp", "0.0.0.0", 8000, "0A")])
        with pytest.raises(AssertionError, match=re.escape("tcp 0.0.0.0 port 8000, not only on loopback: killed")):
            stop_server(proc)
        assert proc.returncode == -signal.SIGKILL
    finally:
        proc.kill()


def test_the_watchdog_kills_a_process_past_its_deadline() -> None:
    proc = spawn(SLEEPER, deadline=1)
    assert proc.wait(timeout=120) == -signal.SIGKILL  # nobody else signals it
    with pytest.raises(AssertionError, match="the watchdog killed it"):
        stop_server(proc)
