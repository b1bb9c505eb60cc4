"""Who may look at the dashboard: the Host header check (DNS rebinding) and the operator's login.

Both are plain ASGI middlewares around the whole app (page, static files, JSON, the SSE stream):

* **Host.** A browser tricked by a rebinding DNS name (``evil.example`` resolving first to the attacker,
  then to 127.0.0.1) sends ``Host: evil.example``; only the configured names (default ``127.0.0.1``,
  ``localhost``, ``[::1]``; ``CORRIDOR_MONITOR_ALLOWED_HOSTS``) are served, anything else gets 400
  before authentication, so the page's script can never read the dashboard from a foreign origin.
* **Login.** Every path but ``/healthz`` and ``/readyz`` (the stack's probes, which say nothing about
  trades) needs the operator token (``<state dir>/credentials/monitor-operator.token``): as
  ``Authorization: Bearer <token>`` for scripts, or HTTP basic authentication with user ``operator`` and
  the token as password — the browser asks for it once (``WWW-Authenticate: Basic``) and then sends it
  with every request, EventSource included. Compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPERATOR_USER = "operator"
REALM = "Corridor monitor"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
DEFAULT_ALLOWED_HOSTS = ("127.0.0.1", "localhost", "[::1]")
MIN_TOKEN_LENGTH = 16


def host_name(host_header: str) -> str:
    """The name of a Host header without its port, lower-case (``[::1]:8083`` → ``[::1]``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end > 0 else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


async def _plain(send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AllowedHosts:
    """400 for a request whose Host header names none of ``allowed``."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(host_name(h) for h in allowed if h.strip())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and host_name(_header(scope, b"host")) not in self.allowed:
            await _plain(
                send, 400, "Invalid Host header: this dashboard answers only to its configured names"
            )
            return
        await self.app(scope, receive, send)


def token_matches(authorization: str, token: str) -> bool:
    """Whether an Authorization header carries the operator token (Bearer, or Basic as ``operator``)."""
    scheme, _, value = authorization.partition(" ")
    presented: str | None = None
    if scheme.lower() == "bearer":
        presented = value.strip()
    elif scheme.lower() == "basic":
        try:
            user, sep, password = (
                base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return False
        presented = password if sep and user == OPERATOR_USER else None
    if not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), token.encode("utf-8"))


class OperatorLogin:
    """401 (with a Basic challenge, so a browser asks) unless the request carries the operator token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the monitor's operator token must have at least {MIN_TOKEN_LENGTH} characters")
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if not token_matches(_header(scope, b"authorization"), self.token):
            challenge = f'Basic realm="{REALM}", charset="UTF-8"'.encode()
            await _plain(send, 401, "log in as the operator", [(b"www-authenticate", challenge)])
            return
        await self.app(scope, receive, send)


def record_topic_allowed(topic: str, own_topics: Iterable[str], extra: Iterable[str]) -> bool:
    """Whether ``/api/records`` may decode a record of ``topic``: the backbone's own topics, plus those the
    operator named (``CORRIDOR_MONITOR_RECORD_TOPICS``; ``*`` = every topic)."""
    allowed = set(own_topics) | {t.strip() for t in extra if t.strip()}
    return "*" in allowed or topic in allowed
