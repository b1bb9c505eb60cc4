"""The stack's credential files (corridor.core.credentials) and who is given which (stack services)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corridor.core import credentials
from corridor.stack.config import StackConfig
from corridor.stack.services import SERVICES, environment


def test_stack_credentials_are_owner_only_and_kept(tmp_path: Path) -> None:
    files = credentials.ensure_stack_credentials(tmp_path)
    assert credentials.credentials_dir(tmp_path).stat().st_mode & 0o777 == 0o700
    for path in files.values():
        assert path.stat().st_mode & 0o777 == 0o600, path
    before = {name: path.read_text() for name, path in files.items()}
    credentials.ensure_stack_credentials(tmp_path)
    assert {name: path.read_text() for name, path in files.items()} == before  # kept across restarts

    users = credentials.load_users(files[credentials.REGISTRY_USERS])
    assert {u: e["role"] for u, e in users.items()} == {"operator": "write", "services": "read"}
    operator = files[credentials.REGISTRY_OPERATOR].read_text().partition(":")[2]
    assert credentials.check_password(users["operator"], operator)
    assert not credentials.check_password(users["services"], operator)
    assert operator not in files[credentials.REGISTRY_USERS].read_text()  # only its hash

    # deleting the operator's file is how it is rotated: a new password, the users file follows
    files[credentials.REGISTRY_OPERATOR].unlink()
    credentials.ensure_stack_credentials(tmp_path)
    rotated = files[credentials.REGISTRY_OPERATOR].read_text().partition(":")[2]
    assert rotated != operator
    users = credentials.load_users(files[credentials.REGISTRY_USERS])
    assert credentials.check_password(users["operator"], rotated)
    assert not credentials.check_password(users["operator"], operator)


def test_a_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret")
    path.chmod(0o644)
    with pytest.raises(PermissionError, match="readable by others"):
        credentials.read_secret(path)


def test_partner_users_are_added_and_removed(tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    credentials.set_user(users_file, credentials.partner_user("acme"), "pw-123456", credentials.READ)
    assert json.loads(users_file.read_text())["users"]["partner-acme"]["role"] == "read"
    with pytest.raises(ValueError):
        credentials.set_user(users_file, "bad:name", "pw", credentials.READ)
    with pytest.raises(ValueError):
        credentials.set_user(users_file, "x", "pw", "admin")
    assert credentials.remove_user(users_file, "partner-acme")
    assert not credentials.remove_user(users_file, "partner-acme")


def test_each_service_gets_only_its_own_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRIDOR_SCHEMA_REGISTRY_USER_INFO", "operator:the-operators-own")
    monkeypatch.setenv("CORRIDOR_MONITOR_TOKEN", "the-operators-token")
    config = StackConfig(state_dir=tmp_path)
    directory = credentials.credentials_dir(tmp_path)
    envs = {s.name: environment(config, s, "postgresql://x", "127.0.0.1:9092") for s in SERVICES}
    for name, env in envs.items():
        assert "CORRIDOR_SCHEMA_REGISTRY_USER_INFO" not in env and "CORRIDOR_MONITOR_TOKEN" not in env, name
        assert env["CORRIDOR_SCHEMA_REGISTRY_USER_INFO_FILE"] == str(
            directory / credentials.REGISTRY_SERVICES
        )
        assert ("CORRIDOR_REGISTRY_USERS_FILE" in env) == (name == "registry"), name
        assert ("CORRIDOR_MONITOR_TOKEN_FILE" in env) == (name == "monitor"), name
        assert ("CORRIDOR_WEBHOOKS_SECRETS_KEY_FILE" in env) == (name == "webhooks"), name


def test_services_refuse_to_start_without_their_secret(tmp_path: Path) -> None:
    """No anonymous fallback: the dashboard needs its token, the webhooks service its key."""
    from corridor.monitor.app import create_app as monitor_app
    from corridor.monitor.settings import MonitorSettings
    from corridor.webhooks.app import create_app as webhooks_app
    from corridor.webhooks.settings import WebhooksSettings

    with pytest.raises(ValueError, match="no operator token"):
        monitor_app(MonitorSettings(state_dir=tmp_path))
    with pytest.raises(ValueError, match="no key for the webhook secrets"):
        webhooks_app(WebhooksSettings(state_dir=tmp_path))
    with pytest.raises(ValueError, match="at least 16"):
        monitor_app(MonitorSettings(state_dir=tmp_path, monitor_token="short"))
