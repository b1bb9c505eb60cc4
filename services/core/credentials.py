"""The stack's local credentials: secret files readable by their owner only, and who reads which.

``corridor stack up`` creates them once under ``<state dir>/credentials/`` (a 0700 directory, each file
0600) and keeps them across restarts; a service is handed the *path* of what it needs through its
``CORRIDOR_*`` settings, never another service's secret (docs/adr/0023-application-credentials.md):

* ``registry-users.json`` — the schema registry's users: name, role (``read`` or ``write``), salted
  scrypt hash of the password. Only the registry reads it; ``partners add`` adds a ``read`` user.
* ``registry-operator.userinfo`` — ``operator:<password>`` (role ``write``): ``corridor schemas
  register``, ``stack up``, the demo, the operator's tools. The CLI falls back to it when no
  ``CORRIDOR_SCHEMA_REGISTRY_USER_INFO[_FILE]`` is set.
* ``registry-services.userinfo`` — ``services:<password>`` (role ``read``): every service.
* ``registry-partner-<id>.userinfo`` — one ``read`` user per partner (``partners add``).
* ``monitor-operator.token`` — the dashboard's operator login.
* ``webhooks-secrets.key`` — the key that encrypts webhook secrets at rest (only the webhooks service).
* ``kafka-broker.password`` — the brokers' own PLAIN login (``corridor-broker``, super user), also
  rendered into each broker's ``server.properties`` (0600); only the brokers and ``stack up`` use it.
* ``kafka-corridor-operator.password`` — the operator's SCRAM login (super user): the CLI and the
  tests fall back to it (``corridor.core.kafka.client_security``) when no ``CORRIDOR_KAFKA_*`` is set.
* ``kafka-corridor-<service>.password`` — one SCRAM login per service (``corridor.deploy.access``),
  handed to that service only, as ``CORRIDOR_KAFKA_SASL_PASSWORD_FILE`` (docs/adr/0024).

Invariant: a secret file is never readable by group or others, not even for an instant (it is created
0600 before anything is written into it, then renamed into place).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

CREDENTIALS_DIR = "credentials"
REGISTRY_USERS = "registry-users.json"
REGISTRY_OPERATOR = "registry-operator.userinfo"
REGISTRY_SERVICES = "registry-services.userinfo"
MONITOR_TOKEN = "monitor-operator.token"
WEBHOOKS_KEY = "webhooks-secrets.key"

#: The brokers' PLAIN principal and the operator's SCRAM principal on the local stack (ADR 0024).
KAFKA_BROKER_USER = "corridor-broker"
KAFKA_OPERATOR_USER = "corridor-operator"

READ = "read"
WRITE = "write"
ROLES = (READ, WRITE)
OPERATOR_USER = "operator"
SERVICES_USER = "services"

# scrypt cost: ~30 ms per check; the registry caches a verified password's digest, so this is paid once
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def credentials_dir(state_dir: Path) -> Path:
    return state_dir / CREDENTIALS_DIR


def kafka_password_file(state_dir: Path, username: str) -> Path:
    """Where the stack keeps the Kafka password of ``username`` (a broker, service or operator login)."""
    name = "broker" if username == KAFKA_BROKER_USER else username
    return credentials_dir(state_dir) / f"kafka-{name}.password"


def partner_user(partner_id: str) -> str:
    return f"partner-{partner_id}"


def partner_user_info_file(state_dir: Path, partner_id: str) -> Path:
    return credentials_dir(state_dir) / f"registry-{partner_user(partner_id)}.userinfo"


def new_password() -> str:
    return secrets.token_urlsafe(32)


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600 from the first byte (directory 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_secret(path: Path) -> str:
    """A secret file's content (stripped); refuses one that group or others could read."""
    mode = path.stat().st_mode & 0o077
    if mode:
        raise PermissionError(
            f"{path} is readable by others (mode {oct(path.stat().st_mode & 0o777)}); chmod 600"
        )
    return path.read_text(encoding="utf-8").strip()


def ensure_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret in ``path``, created by ``make()`` if the file does not exist yet."""
    if not path.exists():
        write_secret(path, make())
    return read_secret(path)


# -- registry users ------------------------------------------------------------------------------------


def hash_password(password: str, salt: bytes | None = None) -> dict[str, str]:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return {
        "algorithm": "scrypt",
        "salt": base64.b64encode(salt).decode(),
        "password_hash": base64.b64encode(digest).decode(),
    }


def check_password(entry: dict[str, Any], password: str) -> bool:
    if entry.get("algorithm") != "scrypt":
        return False
    salt = base64.b64decode(entry["salt"])
    expected = base64.b64decode(entry["password_hash"])
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **_SCRYPT)
    return hmac.compare_digest(digest, expected)


def load_users(path: Path) -> dict[str, dict[str, Any]]:
    """``{user: {"role", "algorithm", "salt", "password_hash"}}`` from a registry users file."""
    document = json.loads(read_secret(path) or "{}")
    users = document.get("users", {}) if isinstance(document, dict) else {}
    if not isinstance(users, dict):
        raise ValueError(f"{path}: 'users' must be an object")
    for name, entry in users.items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES:
            raise ValueError(f"{path}: user {name!r} needs a role, one of {ROLES}")
    return users


def set_user(path: Path, user: str, password: str, role: str) -> None:
    """Add or replace one registry user (its password hashed) in the users file."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    if ":" in user or not user:
        raise ValueError(f"invalid registry user name {user!r}")
    users = load_users(path) if path.exists() else {}
    users[user] = {"role": role, **hash_password(password)}
    write_secret(path, json.dumps({"users": users}, indent=2, sort_keys=True))


def remove_user(path: Path, user: str) -> bool:
    if not path.exists():
        return False
    users = load_users(path)
    if users.pop(user, None) is None:
        return False
    write_secret(path, json.dumps({"users": users}, indent=2, sort_keys=True))
    return True


def ensure_registry_user(state_dir: Path, file_name: str, user: str, role: str) -> str:
    """``user:<password>`` in ``file_name`` under the credentials directory; the user in the users file.
    Both made if missing (a user whose hash no longer matches its file is reset)."""
    directory = credentials_dir(state_dir)
    user_info = ensure_secret(directory / file_name, lambda: f"{user}:{new_password()}")
    users_file = directory / REGISTRY_USERS
    users = load_users(users_file) if users_file.exists() else {}
    entry = users.get(user)
    password = user_info.partition(":")[2]
    if entry is None or entry.get("role") != role or not check_password(entry, password):
        set_user(users_file, user, password, role)
    return user_info


def ensure_stack_credentials(state_dir: Path) -> dict[str, Path]:
    """Create whatever is missing of the stack's credentials; returns the files by name."""
    directory = credentials_dir(state_dir)
    ensure_registry_user(state_dir, REGISTRY_OPERATOR, OPERATOR_USER, WRITE)
    ensure_registry_user(state_dir, REGISTRY_SERVICES, SERVICES_USER, READ)
    ensure_secret(directory / MONITOR_TOKEN, lambda: secrets.token_urlsafe(32))
    ensure_secret(
        directory / WEBHOOKS_KEY, lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    )
    return {
        name: directory / name
        for name in (REGISTRY_USERS, REGISTRY_OPERATOR, REGISTRY_SERVICES, MONITOR_TOKEN, WEBHOOKS_KEY)
    }


def resolve_secret(value: str | None, file: Path | None, default_file: Path | None = None) -> str | None:
    """A secret given directly, else read from ``file``, else from ``default_file`` if it exists."""
    if value:
        return value
    if file is not None:
        return read_secret(file)
    if default_file is not None and default_file.exists():
        return read_secret(default_file)
    return None
