"""The operator's Kafka login for the stacks a test session starts besides the default one.

Test code logs in as the operator through ``corridor.core.kafka.client_security()``, which reads the
default stack's password file (``.corridor/credentials/kafka-corridor-operator.password``). An isolated
stack (own state dir, own ports) gets that same password before its first ``up``, so one login works on
every stack of the session; each stack still has its own brokers' password and service logins.
"""

from __future__ import annotations

from pathlib import Path

from corridor.core import credentials
from corridor.core.kafka import client_security, operator_password_file


def share_operator_login(state_dir: Path) -> None:
    """Give the stack in ``state_dir`` the operator password of the default stack (made if missing)."""
    password = credentials.ensure_secret(operator_password_file(), credentials.new_password)
    credentials.write_secret(operator_password_file(state_dir), password)


def confluent_login() -> dict[str, str]:
    """The operator's login (``client_security()``) in librdkafka's property names, for confluent-kafka."""
    security = client_security()
    if not security:
        return {}
    return {
        "security.protocol": security["security_protocol"],
        "sasl.mechanisms": security["sasl_mechanism"],
        "sasl.username": security["sasl_plain_username"],
        "sasl.password": security["sasl_plain_password"],
    }


def operator_env(state_dir: Path) -> dict[str, str]:
    """``CORRIDOR_KAFKA_*`` of the operator's login of the stack in ``state_dir``, for a CLI process run
    with a ``CORRIDOR_STATE_DIR`` of its own (where no stack's credentials are to fall back to)."""
    return {
        "CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CORRIDOR_KAFKA_SASL_USERNAME": credentials.KAFKA_OPERATOR_USER,
        "CORRIDOR_KAFKA_SASL_PASSWORD_FILE": str(operator_password_file(state_dir)),
    }
