"""Kafka credentials of deploy/compose.yaml, as the local stack has them (docs/adr/0024, 0028).

``compose_credentials`` (services/deploy/database.py, run once by the operator before the first
``docker compose up``) calls :func:`kafka_env_files` to make, in ``deploy/credentials/`` (0600 each,
never committed):

* the passwords: ``kafka-broker.password`` (the brokers' PLAIN login ``corridor-broker``, super user),
  ``kafka-corridor-operator.password`` (SCRAM, super user: the host's CLI), one
  ``kafka-corridor-<service>.password`` per principal of ``corridor.deploy.access.SERVICE_PRINCIPALS``;
* the partner listener's CA and broker certificate (services/stack/tls.py; ``tls-ca.pem`` is what
  partners trust);
* ``kafka-broker.env`` — what every broker container reads: the PLAIN login declared on the
  ``INTERNAL``, ``DOCKER`` and ``CONTROLLER`` listeners, and the partner listener's keystore inline
  (``ssl.keystore.key`` / ``ssl.keystore.certificate.chain``; the broker's user does not own files of
  the host), newlines written as ``\\n`` (single-quoted: compose keeps them, Java's properties reader
  turns them back into newlines);
* ``kafka-principals.env`` — the ``kafka-principals`` job: the brokers' login and every principal's
  password (:func:`main` stores them with exactly their ACLs, as ``stack up`` does);
* lines for each service's own env file: its SCRAM login only, the services' registry login, the
  dashboard's token (monitor) and the webhook secrets' key (webhooks) (:func:`app_env_lines`), and the
  registry's users file (``registry-users.json``).

Invariant: a service's env file holds its own password and no other's; nobody is ``User:ANONYMOUS``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys
from pathlib import Path

from corridor.core import credentials

BOOTSTRAP = "kafka-1:19092,kafka-2:19092,kafka-3:19092"  # the containers' listener (DOCKER)
#: The listeners the brokers' PLAIN login is declared on (lower case, as in listener.name.<name>.…).
PLAIN_LISTENERS = ("internal", "docker", "controller")
PASSWORD_ENV_PREFIX = "CORRIDOR_KAFKA_PASSWORD_"


def password_env(username: str) -> str:
    """The variable of ``kafka-principals.env`` holding ``username``'s password."""
    return PASSWORD_ENV_PREFIX + username.upper().replace("-", "_")


def _escaped(value: str) -> str:
    """One env-file line's value: newlines as ``\\n`` inside single quotes (no quote may occur)."""
    if "'" in value:
        raise ValueError("a single quote cannot be written into a single-quoted env value")
    return "'" + value.replace("\n", "\\n") + "'"


def kafka_env_files(directory: Path) -> dict[str, list[str]]:
    """Make (once) the Kafka passwords and TLS material in ``directory``; the env files' lines by
    file name (``kafka-broker.env``, ``kafka-principals.env``, ``<service>.env`` lines to add)."""
    from corridor.deploy.access import SERVICE_PRINCIPALS
    from corridor.stack import tls  # the host's side only: the job below needs none of it

    def password(username: str) -> str:
        path = directory / credentials.kafka_password_file(Path("."), username).name
        return credentials.ensure_secret(path, credentials.new_password)

    broker = password(credentials.KAFKA_BROKER_USER)
    operator = password(credentials.KAFKA_OPERATOR_USER)
    services = {p.service: (p.username, password(p.username)) for p in SERVICE_PRINCIPALS}
    material, _issued = tls.ensure_tls_files(directory, tls.broker_names("127.0.0.1"))
    user = credentials.KAFKA_BROKER_USER
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{broker}" user_{user}="{broker}";'
    )
    broker_env = [
        f"KAFKA_LISTENER_NAME_{name.upper()}_PLAIN_SASL_JAAS_CONFIG={_escaped(jaas)}"
        for name in PLAIN_LISTENERS
    ]
    for key, value in tls.keystore_properties(material.keystore).items():
        name = "KAFKA_LISTENER_NAME_PARTNER_" + key.upper().replace(".", "_")
        broker_env.append(f"{name}={_escaped(value)}")
    broker_env.append(f"CORRIDOR_BROKER_PASSWORD={broker}")  # the healthcheck's and kafka-init's login
    principals_env = [
        "CORRIDOR_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT",
        "CORRIDOR_KAFKA_SASL_MECHANISM=PLAIN",
        f"CORRIDOR_KAFKA_SASL_USERNAME={user}",
        f"CORRIDOR_KAFKA_SASL_PASSWORD={broker}",
        f"{password_env(credentials.KAFKA_OPERATOR_USER)}={operator}",
        *(f"{password_env(name)}={secret}" for name, secret in services.values()),
    ]
    files = {"kafka-broker.env": broker_env, "kafka-principals.env": principals_env}
    for service, (_name, secret) in services.items():
        if service != "ops":  # the operator's CLI runs on the host, as the operator
            files[f"{service}.env"] = [f"CORRIDOR_KAFKA_SASL_PASSWORD={secret}"]
    for service, lines in app_env_lines(directory).items():
        files[service] = [*files.get(service, []), *lines]
    return files


#: The services of deploy/compose.yaml that read the schema registry (all but the registry itself).
REGISTRY_READERS = ("gateway", "ledger", "relay", "webhooks", "monitor")


def app_env_lines(directory: Path) -> dict[str, list[str]]:
    """The application credentials of ADR 23 for compose, made once in ``directory`` as ``stack up``
    makes them: the registry's users file (``registry-users.json``: ``operator`` with role ``write``,
    ``services`` with ``read``; the ``registry-users`` job installs it for the registry's user), the
    services' registry login, the dashboard's token (monitor only), the webhook secrets' key (webhooks
    only). Returns the env lines per file (``<service>.env``)."""
    users_file = directory / credentials.REGISTRY_USERS

    def registry_user(file_name: str, user: str, role: str) -> str:
        user_info = credentials.ensure_secret(
            directory / file_name, lambda: f"{user}:{credentials.new_password()}"
        )
        users = credentials.load_users(users_file) if users_file.exists() else {}
        entry = users.get(user)
        password = user_info.partition(":")[2]
        if entry is None or entry.get("role") != role or not credentials.check_password(entry, password):
            credentials.set_user(users_file, user, password, role)
        return user_info

    registry_user(credentials.REGISTRY_OPERATOR, credentials.OPERATOR_USER, credentials.WRITE)
    services = registry_user(credentials.REGISTRY_SERVICES, credentials.SERVICES_USER, credentials.READ)
    token = credentials.ensure_secret(directory / credentials.MONITOR_TOKEN, credentials.new_password)
    key = credentials.ensure_secret(
        directory / credentials.WEBHOOKS_KEY,
        lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    )
    lines = {f"{name}.env": [f"CORRIDOR_SCHEMA_REGISTRY_USER_INFO={services}"] for name in REGISTRY_READERS}
    lines["monitor.env"].append(f"CORRIDOR_MONITOR_TOKEN={token}")
    lines["webhooks.env"].append(f"CORRIDOR_WEBHOOKS_SECRETS_KEY={key}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``python -m corridor.deploy.compose_kafka``: the compose ``kafka-principals`` job. Logged in as the
    brokers (``CORRIDOR_KAFKA_*`` of ``kafka-principals.env``), store the operator's SCRAM credential and
    each service's with exactly its ACLs (``corridor.deploy.access.service_acls``); idempotent."""
    from corridor.core.kafka import client_security
    from corridor.core.partners import AclBinding, ensure_principals
    from corridor.deploy.access import SERVICE_PRINCIPALS, service_acls

    args = sys.argv[1:] if argv is None else argv
    if args:
        print(
            "usage: python -m corridor.deploy.compose_kafka (settings from the environment)", file=sys.stderr
        )
        return 2
    wanted: list[tuple[str, list[AclBinding]]] = [(credentials.KAFKA_OPERATOR_USER, [])] + [
        (p.username, service_acls(p.service)) for p in SERVICE_PRINCIPALS
    ]
    missing = [password_env(name) for name, _acls in wanted if not os.environ.get(password_env(name))]
    if missing:
        print(f"corridor.deploy.compose_kafka: set {', '.join(missing)}", file=sys.stderr)
        return 2
    principals: list[tuple[str, str, list[AclBinding]]] = [
        (name, os.environ[password_env(name)], acls) for name, acls in wanted
    ]
    bootstrap = os.environ.get("CORRIDOR_BOOTSTRAP_SERVERS", BOOTSTRAP)
    asyncio.run(ensure_principals(bootstrap, principals, login=client_security()))
    print(f"Kafka principals: {', '.join(name for name, _p, _a in principals)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
