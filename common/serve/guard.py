"""What keeps other web sites from driving nst serve through the user's browser (the page has no login, so the
browser is the boundary), as one pure ASGI middleware around the whole app:

- the Host check: only requests whose Host header names an address the server serves (127.0.0.1, localhost, [::1],
  the address the connection arrived at, what --host names; with the port it listens on) are answered; any other
  gets 421, so a page of another site whose name resolves to 127.0.0.1 (DNS rebinding) reads and changes nothing;
- the Origin check: a request that changes something (POST, PUT, PATCH, DELETE) is refused (403) when its Origin
  header is another origin than the server's own (a "null" one included), or when Sec-Fetch-Site says it comes
  from another site; a request with neither header (curl, a script) is no browser's, and is answered;
- the body bound: a request's body is read into memory up to a small limit (64 KiB) and refused (413) beyond it,
  with a Content-Length header or without one (chunked); the upload route reads its body itself, streamed to a
  file under its own limit (intake.MAX_UPLOAD_BYTES), and is left to do so.

Every refusal is {"detail": one line} saying what was refused and why, as the API's other refusals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = ("127.0.0.1", "localhost", "::1")  # the names of this machine, always served (as check_host takes them)
MAX_BODY_BYTES = 64 * 2**10
CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STREAMED = frozenset({("POST", "/api/uploads")})  # routes that read their body themselves, under their own limit
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\[\]:/@\s]+))(?::(?P<port>\d{1,5}))?")


def split_host(value: str) -> tuple[str, int | None] | None:
    """A Host header's (or an origin's) name, lower case and without brackets, and its port; None if malformed."""
    match = _HOST.fullmatch(value.strip())
    if match is None:
        return None
    name = (match["ipv6"] or match["name"]).lower()
    return name, int(match["port"]) if match["port"] else None


def shown_host(name: str, port: int | None) -> str:
    """host:port as a URL writes it ([::1]:8000)."""
    host = f"[{name}]" if ":" in name else name
    return f"{host}:{port}" if port is not None else host


def header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (the first one), decoded as Latin-1; None if absent."""
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def quoted(value: str) -> str:
    """A client's text, shortened and quoted for a one-line message."""
    return repr(value[:100] + ("..." if len(value) > 100 else ""))


class Guard:
    """The ASGI middleware: the Host check on every request, the Origin check on changes, the body bound."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str] = (), limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        named = (host.strip().strip("[]").lower() for host in (*LOOPBACK, *hosts))  # addresses, no port
        self.names = tuple(dict.fromkeys(name for name in named if name))  # in order, each once
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request, or refuse it in one line."""
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        refusal = self.host_refusal(scope) or self.origin_refusal(scope)
        if refusal is None and scope["type"] == "http" and (scope["method"], scope["path"]) not in STREAMED:
            refusal, receive = await self.bounded(scope, receive)
        if refusal is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008, "reason": refusal[1][:120]})
        await answer(send, *refusal)

    def served(self, scope: Scope) -> tuple[tuple[str, ...], int | None]:
        """The names this request may give as its Host (the address it arrived at too), and the port it arrived at
        (None if unknown)."""
        server = scope.get("server")
        names = (*self.names, str(server[0]).lower()) if server else self.names
        return tuple(dict.fromkeys(names)), int(server[1]) if server and server[1] is not None else None

    def is_served(self, scope: Scope, name: str, port: int | None) -> bool:
        """Whether name:port (no port: the scheme's default) is an address this server serves."""
        names, served_port = self.served(scope)
        port = port if port is not None else DEFAULT_PORTS.get(scope.get("scheme", "http"))
        return name in names and (served_port is None or port == served_port)

    def host_refusal(self, scope: Scope) -> tuple[int, str] | None:
        """421 and why, unless the Host header names an address this server serves."""
        value = header(scope, b"host")
        parsed = split_host(value) if value is not None else None
        if parsed is not None and self.is_served(scope, *parsed):
            return None
        names, port = self.served(scope)
        served = ", ".join(shown_host(name, port) for name in names)
        what = "a request without a Host header" if value is None else f"Host {quoted(value)}, not an address it serves"
        return 421, (
            f"refused: {what}; this server answers to {served} only, so that no other web site can reach it "
            "under a name of its own (DNS rebinding)"
        )

    def origin_refusal(self, scope: Scope) -> tuple[int, str] | None:
        """403 and why for a change coming from another site's page (Origin, Sec-Fetch-Site); None otherwise."""
        if scope["type"] == "http" and scope["method"] not in CHANGES:
            return None
        what = f"{scope['method']} {scope['path']}" if scope["type"] == "http" else "a WebSocket"
        site = (header(scope, b"sec-fetch-site") or "").strip().lower()
        if site in ("cross-site", "same-site"):
            other = "site" if site == "cross-site" else "origin"
            return 403, (
                f"refused: {what} from a page of another {other} (Sec-Fetch-Site: {site}); "
                "only this server's own page may change its runs and uploads"
            )
        origin = header(scope, b"origin")
        if origin is None or self.is_own_origin(scope, origin):
            return None
        return 403, (
            f"refused: {what} from a page of another origin (Origin: {quoted(origin)}); "
            "only this server's own page may change its runs and uploads"
        )

    def is_own_origin(self, scope: Scope, origin: str) -> bool:
        """Whether an Origin header is this request's own origin: its scheme and its Host's name and port."""
        scheme, _, rest = origin.strip().partition("://")
        own, theirs = split_host(header(scope, b"host") or ""), split_host(rest)
        if own is None or theirs is None or scheme.lower() != scope.get("scheme", "http").replace("ws", "http"):
            return False
        default = DEFAULT_PORTS.get(scheme.lower())
        return (own[0], own[1] or default) == (theirs[0], theirs[1] or default)

    async def bounded(self, scope: Scope, receive: Receive) -> tuple[tuple[int, str] | None, Receive]:
        """Read the body, at most self.limit bytes of it: (413 and why, or None) and the receive that replays it."""
        why = f"the request body is larger than the limit of {self.limit:,} bytes (only an upload may be larger)"
        too_large = 413, f"refused: {why}"
        length = header(scope, b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.limit:
            return too_large, receive
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to answer
                return None, receive_then(message, receive)
            body += message.get("body", b"")
            if len(body) > self.limit:
                return too_large, receive
            more = message.get("more_body", False)
        return None, receive_then({"type": "http.request", "body": bytes(body), "more_body": False}, receive)


def receive_then(first: Message, receive: Receive) -> Receive:
    """A receive that gives `first` once, then what `receive` gives."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def answer(send: Send, status: int, detail: str) -> None:
    """Send a refusal: {"detail": the one line}, closing the connection (a body may be left unread)."""
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
