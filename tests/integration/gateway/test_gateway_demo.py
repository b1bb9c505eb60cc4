"""`corridor demo --via gateway`: every party posts its own events with its own key; reruns reuse keys."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from corridor.core.credentials import REGISTRY_OPERATOR, credentials_dir
from corridor.core.domain import trust
from corridor.core.domain.events import EVENT_TYPES
from tests.support.kafka_login import operator_env

pytestmark = pytest.mark.integration


def _demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corridor.cli", "demo", "--no-stack", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_demo_through_the_gateway(stack, database_url, gateway, schemas, admin, tmp_path) -> None:
    env = {
        **os.environ,
        "CORRIDOR_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "CORRIDOR_SCHEMA_REGISTRY_URL": stack.schema_registry_url,
        # the demo is an operator's tool: the stack's operator login (its state dir is the test's own)
        "CORRIDOR_SCHEMA_REGISTRY_USER_INFO_FILE": str(credentials_dir(stack.state_dir) / REGISTRY_OPERATOR),
        "CORRIDOR_DATABASE_URL": database_url,
        "CORRIDOR_GATEWAY_URL": gateway.url,
        "CORRIDOR_PARTNERS_DB_SCHEMA": schemas.partners,
        "CORRIDOR_STATE_DIR": str(tmp_path),
        **operator_env(stack.state_dir),  # and its Kafka login (ADR 24)
    }
    first = _demo(env, "--story", "explosives")
    assert first.returncode == 0, first.stderr
    assert f"to the gateway at {gateway.url}" in first.stderr
    assert "partner wah-nobel (SUPPLIER) registered" in first.stderr
    trade_id = re.search(r"^Trade ([0-9a-f-]{36})", first.stdout, re.M).group(1)
    assert "events published by 6 parties" in first.stdout
    keys = json.loads((tmp_path / "demo-keys.json").read_text())
    assert set(keys) == {
        "mcc-kashgar-mining",
        "wah-nobel",
        "pk-department-of-explosives",
        "cn-miit",
        "nlc-sost",
        "tdap",  # the CPFTA certificate of origin (ADR 0033)
    }
    assert oct((tmp_path / "demo-keys.json").stat().st_mode & 0o777) == "0o600"
    # each event went in as its own party: the gateway recorded the trade's parties (its buyer and
    # supplier, and those they admitted) from its order and admissions
    rows = admin.fetch(
        "SELECT event_type, payload::text AS payload FROM {gw}.trade_facts"
        " WHERE trade_id = $1::uuid ORDER BY seq",
        trade_id,
    )
    state = None
    for r in rows:
        state = trust.admit(state, EVENT_TYPES[r["event_type"]].model_validate_json(r["payload"]))
    assert state is not None
    assert {(p, m.role) for p, m in state.members.items()} == {
        ("mcc-kashgar-mining", "BUYER"),
        ("wah-nobel", "SUPPLIER"),
        ("pk-department-of-explosives", "ISSUING_AUTHORITY"),
        ("cn-miit", "ISSUING_AUTHORITY"),
        ("nlc-sost", "CARRIER"),
        ("tdap", "ISSUING_AUTHORITY"),
    }

    # a rerun reuses the stored keys; a key rotated behind the demo's back is rotated again
    admin.rotate("nlc-sost")
    second = _demo(env, "--story", "explosives", "--via", "gateway")
    assert second.returncode == 0, second.stderr
    assert ") registered" not in second.stderr
    assert "partner nlc-sost: no working key" in second.stderr
    assert json.loads((tmp_path / "demo-keys.json").read_text())["wah-nobel"] == keys["wah-nobel"]


def test_demo_falls_back_to_kafka_without_a_gateway(stack, database_url, tmp_path) -> None:
    env = {
        **os.environ,
        "CORRIDOR_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "CORRIDOR_SCHEMA_REGISTRY_URL": stack.schema_registry_url,
        # the demo is an operator's tool: the stack's operator login (its state dir is the test's own)
        "CORRIDOR_SCHEMA_REGISTRY_USER_INFO_FILE": str(credentials_dir(stack.state_dir) / REGISTRY_OPERATOR),
        "CORRIDOR_DATABASE_URL": database_url,
        "CORRIDOR_GATEWAY_URL": "http://127.0.0.1:1",
        "CORRIDOR_STATE_DIR": str(tmp_path),
        **operator_env(stack.state_dir),  # and its Kafka login (ADR 24)
    }
    refused = _demo(env, "--via", "gateway")
    assert refused.returncode == 1 and "no gateway answers at http://127.0.0.1:1" in refused.stderr
    fallback = _demo(env, "--story", "explosives")
    assert fallback.returncode == 0, fallback.stderr
    assert "publishing straight to Kafka" in fallback.stderr
    assert "events published by 6 parties" in fallback.stdout
