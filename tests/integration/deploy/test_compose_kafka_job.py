"""The compose file's ``kafka-principals`` job (``python -m corridor.deploy.compose_kafka``) on a real
broker: logged in as the brokers (PLAIN) it stores the operator's and every service's SCRAM credential
with exactly the ACLs of services/deploy/access.py, as ``stack up`` does; a service then logs in with the
password the job was given. Runs on the session's default stack with the passwords that stack already
has (so the job changes nothing the other tests rely on: it is idempotent)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from corridor.core import credentials
from corridor.core.kafka import client_security
from corridor.core.partners import kafka_admin
from corridor.core.settings import PROJECT_ROOT, get_settings
from corridor.deploy import access
from corridor.deploy.compose_kafka import password_env
from corridor.stack import StackConfig, StackStatus, recorded_config

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def job_env(config: StackConfig, bootstrap: str) -> dict[str, str]:
    """``kafka-principals.env`` of this stack: the brokers' login and every principal's password."""
    folder = config.state_dir
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CORRIDOR_BOOTSTRAP_SERVERS": bootstrap,
        "CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CORRIDOR_KAFKA_SASL_MECHANISM": "PLAIN",
        "CORRIDOR_KAFKA_SASL_USERNAME": credentials.KAFKA_BROKER_USER,
        "CORRIDOR_KAFKA_SASL_PASSWORD": credentials.read_secret(
            credentials.kafka_password_file(folder, credentials.KAFKA_BROKER_USER)
        ),
    }
    for username in (credentials.KAFKA_OPERATOR_USER, *(p.username for p in access.SERVICE_PRINCIPALS)):
        path = credentials.kafka_password_file(folder, username)
        env[password_env(username)] = credentials.read_secret(path)
    return env


def run_job(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corridor.deploy.compose_kafka"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def test_the_job_stores_each_principal_with_its_acls(kafka_stack: StackStatus) -> None:
    config = recorded_config(StackConfig.from_settings(get_settings()))
    env = job_env(config, kafka_stack.bootstrap_servers)

    missing = run_job({k: v for k, v in env.items() if k != password_env("corridor-relay")})
    assert missing.returncode == 2 and password_env("corridor-relay") in missing.stderr

    done = run_job(env)
    assert done.returncode == 0, done.stderr
    assert "corridor-operator" in done.stdout and "corridor-gateway" in done.stdout

    async with kafka_admin._KafkaAdmin(kafka_stack.bootstrap_servers) as kafka:
        for principal in access.SERVICE_PRINCIPALS:
            granted = await kafka_admin._describe_acls(kafka, principal.principal)
            assert sorted(set(granted)) == access.service_acls(principal.service), principal
    # the monitor logs in with the password the job stored (it reads every topic's metadata)
    login: dict[str, Any] = client_security(
        {
            "CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "CORRIDOR_KAFKA_SASL_USERNAME": "corridor-monitor",
            "CORRIDOR_KAFKA_SASL_PASSWORD": env[password_env("corridor-monitor")],
        }
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_stack.bootstrap_servers, **login)
    await consumer.start()
    try:
        assert "trade.orders.v1" in await consumer.topics()
    finally:
        await consumer.stop()
