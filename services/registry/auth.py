"""HTTP basic authentication and roles of the registry, as Confluent Schema Registry and Karapace do it.

Every request but ``GET /readyz`` needs ``Authorization: Basic`` of a user in the users file
(``corridor.core.credentials``: name, role, salted scrypt hash); anonymous or wrong → 401 with
``WWW-Authenticate: Basic realm="SchemaRegistry"``, in Confluent's ``{"error_code", "message"}`` shape.

Roles: ``read`` may call every GET plus the two POSTs that change nothing (look a schema up under a
subject, test compatibility); ``write`` may do everything — register, delete, set compatibility and
mode. A ``read`` user asking for a write gets 403. The check runs before the body is read.

The users file is re-read when its modification time changes (``partners add`` adds a user while the
registry runs). A verified password's SHA-256 is cached per user, so scrypt runs once per credential,
not once per request; a changed file empties the cache. The scrypt check runs in a worker thread, so
a stream of wrong passwords cannot stall the event loop.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.core import credentials

REALM = "SchemaRegistry"
#: Paths anyone may ask: the stack's readiness probe (it says nothing about schemas).
PUBLIC_PATHS = frozenset({"/readyz"})
#: POSTs that only read: look up a schema under a subject, test compatibility.
_READ_ONLY_POST = re.compile(r"^/(subjects/[^/]+|compatibility/.*)$")


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def can_write(self) -> bool:
        return self.role == credentials.WRITE


def needs_write(method: str, raw_path: str) -> bool:
    """Whether ``method raw_path`` changes the registry (``raw_path`` still percent-encoded, so a subject
    with an encoded slash stays one path segment)."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    if method == "POST":
        return not _READ_ONLY_POST.match(raw_path.rstrip("/"))
    return True


class Users:
    """The users file, reloaded when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, dict[str, Any]] = {}
        self._verified: dict[str, bytes] = {}
        self._reload()  # fails at startup (not on the first request) when the file is missing or bad

    def _reload(self) -> None:
        stat = os.stat(self.path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            self._users = credentials.load_users(self.path)
            self._verified = {}
            self._stamp = stamp

    def cached(self, authorization: str | None) -> User | None:
        """The user when this exact credential was verified since the file last changed (no scrypt);
        None otherwise (then :meth:`authenticate`, in a worker thread, decides)."""
        parsed = _parse_basic(authorization)
        if parsed is None:
            return None
        name, password = parsed
        try:
            self._reload()
        except (OSError, ValueError):
            return None
        known, entry = self._verified.get(name), self._users.get(name)
        quick = hashlib.sha256(password.encode("utf-8")).digest()
        if known is None or entry is None or not hmac.compare_digest(known, quick):
            return None
        return User(name, str(entry["role"]))

    def authenticate(self, authorization: str | None) -> User | None:
        parsed = _parse_basic(authorization)
        if parsed is None:
            return None
        name, password = parsed
        try:
            self._reload()
        except (OSError, ValueError):
            with self._lock:  # a broken or missing file authenticates nobody (fail closed)
                self._users, self._verified, self._stamp = {}, {}, None
            return None
        entry = self._users.get(name)
        if entry is None:
            return None
        quick = hashlib.sha256(password.encode("utf-8")).digest()
        known = self._verified.get(name)
        if known is None or not hmac.compare_digest(known, quick):
            if not credentials.check_password(entry, password):
                return None
            self._verified[name] = quick
        return User(name, str(entry["role"]))


def _parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """(user, password) of a ``Basic`` Authorization header, or None."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None
