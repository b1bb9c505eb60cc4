"""Which requests need the registry's write role, and how credentials are checked (registry/auth.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from corridor.core import credentials
from corridor.registry.auth import Users, needs_write


@pytest.mark.parametrize(
    ("method", "path", "write"),
    [
        ("GET", "/subjects", False),
        ("GET", "/schemas/ids/1", False),
        ("POST", "/subjects/a.b.C", False),  # look up
        ("POST", "/subjects/a%2Fb", False),  # an encoded slash stays in the subject
        ("POST", "/compatibility/subjects/a/versions/latest", False),
        ("POST", "/subjects/a/versions", True),
        ("POST", "/subjects/a%2Fb/versions", True),
        ("POST", "/anything-new", True),  # unknown writes need the write role
        ("DELETE", "/subjects/a", True),
        ("PUT", "/config", True),
        ("PUT", "/mode/a", True),
    ],
)
def test_needs_write(method: str, path: str, write: bool) -> None:
    assert needs_write(method, path) is write


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_users_authenticate_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    credentials.set_user(path, "reader", "pw-reader-0123", credentials.READ)
    users = Users(path)
    found = users.authenticate(basic("reader", "pw-reader-0123"))
    assert found is not None and not found.can_write
    assert users.cached(basic("reader", "pw-reader-0123")) == found  # verified once, then cached
    assert users.cached(basic("reader", "wrong")) is None
    for bad in (None, "", "Bearer x", "Basic !!!", basic("reader", "wrong"), basic("nobody", "x")):
        assert users.authenticate(bad) is None, bad
    credentials.set_user(path, "reader", "pw-new-456789", credentials.WRITE)  # rotated while running
    assert users.cached(basic("reader", "pw-reader-0123")) is None  # the change empties the cache
    assert users.authenticate(basic("reader", "pw-reader-0123")) is None
    rotated = users.authenticate(basic("reader", "pw-new-456789"))
    assert rotated is not None and rotated.can_write
    path.unlink()
    assert users.authenticate(basic("reader", "pw-new-456789")) is None  # fail closed
