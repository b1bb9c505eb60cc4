"""``corridor partners`` against the real PostgreSQL, and its keys against a running gateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from click.testing import CliRunner

from corridor.cli.partners import partners as partners_group
from corridor.core import partners
from tests.unit.gateway.gateway_samples import cloudevent

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(database_url, schemas):
    runner = CliRunner()
    env = {"CORRIDOR_DATABASE_URL": database_url, "CORRIDOR_PARTNERS_DB_SCHEMA": schemas.partners}

    def invoke(*args: str):
        return runner.invoke(partners_group, list(args), env=env, catch_exceptions=False)

    return invoke


def test_add_list_rotate_disable_with_json(cli, http, trade) -> None:
    partner_id = f"cli-buyer-{uuid.uuid4().hex[:8]}"
    added = cli("add", partner_id, "--role", "buyer", "--name", "CLI Buyer 买家", "--json")
    assert added.exit_code == 0, added.output
    body = json.loads(added.output)
    assert body["partner"]["partner_id"] == partner_id
    assert body["partner"]["role"] == "BUYER" and body["partner"]["status"] == "active"
    key = body["api_key"]
    assert key.startswith(f"cor_{partner_id}_") and partners.partner_id_of_key(key) == partner_id
    assert body["partner"]["key_id"] == key[len(f"cor_{partner_id}_") :][:8]

    listed = json.loads(cli("list", "--json").output)
    mine = next(p for p in listed if p["partner_id"] == partner_id)
    assert mine["name"] == "CLI Buyer 买家" and key not in json.dumps(listed)

    # the key works at the gateway: this partner is the buyer of a new trade
    data = trade.cast.first("OrderPlaced")
    data["sender"] = partner_id
    data["buyer"]["party_id"] = partner_id
    headers = {"Content-Type": "application/cloudevents+json", "Authorization": f"Bearer {key}"}
    data_type = "corridor.trade.orders.OrderPlaced"
    response = http.post("/v1/events", content=json.dumps(cloudevent(data_type, data)), headers=headers)
    assert response.status_code == 201, response.text

    rotated = cli("rotate-key", partner_id, "--json")
    assert rotated.exit_code == 0, rotated.output
    rotated_body = json.loads(rotated.output)
    new_key = rotated_body["api_key"]
    # one shape for the same thing (docs/cli.md): add, rotate-key, disable and enable all say "partner"
    assert set(rotated_body) == set(body) == {"partner", "api_key", "kafka", "schema_registry"}
    assert rotated_body["partner"]["partner_id"] == partner_id
    assert new_key != key and new_key.startswith(f"cor_{partner_id}_")
    listed = json.loads(cli("list", "--json").output)
    assert next(p for p in listed if p["partner_id"] == partner_id)["rotated_at"] is not None

    def status_with(api_key: str) -> int:
        doc = cloudevent(data_type, {**data, "event_id": str(uuid.uuid4())})
        return http.post(
            "/v1/events", content=json.dumps(doc), headers={**headers, "Authorization": f"Bearer {api_key}"}
        ).status_code

    deadline = time.monotonic() + partners.AUTH_CACHE_TTL_S + 2
    while status_with(key) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status_with(key) == 401
    assert status_with(new_key) == 201

    disabled = cli("disable", partner_id, "--json")
    assert disabled.exit_code == 0 and json.loads(disabled.output)["partner"]["status"] == "disabled"
    deadline = time.monotonic() + partners.AUTH_CACHE_TTL_S + 2
    while status_with(new_key) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status_with(new_key) == 401
    assert cli("enable", partner_id).exit_code == 0


def test_human_output_and_clear_errors(cli) -> None:
    partner_id = f"cli-sgs-{uuid.uuid4().hex[:8]}"
    added = cli("add", partner_id, "--role", "INSPECTION_BODY", "--name", "SGS test")
    assert added.exit_code == 0
    assert f"partner {partner_id} (INSPECTION_BODY, SGS test) added" in added.output
    assert "shown only now" in added.output and f"cor_{partner_id}_" in added.output

    duplicate = cli("add", partner_id, "--role", "CARRIER", "--name", "again")
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    # under --json the failure is JSON too, and still exits non-zero
    duplicate = cli("add", partner_id, "--role", "CARRIER", "--name", "again", "--json")
    assert duplicate.exit_code == 1
    error = json.loads(duplicate.output)["error"]
    assert "already exists" in error["message"] and error["exit_code"] == 1 and error["kind"] == "error"
    missing = cli("rotate-key", "no-such-partner", "--json")
    assert missing.exit_code == 1 and "no partner" in json.loads(missing.output)["error"]["message"]

    listed = cli("list")
    assert partner_id in listed.output and "INSPECTION_BODY" in listed.output and "cor_" not in listed.output

    for args in (("rotate-key", "no-such-partner"), ("disable", "no-such-partner")):
        result = cli(*args)
        assert result.exit_code == 1 and "no partner 'no-such-partner'" in result.output

    bad_id = cli("add", "Not_A_Slug", "--role", "BUYER", "--name", "x")
    assert bad_id.exit_code == 1 and "invalid partner id" in bad_id.output
    bad_role = cli("add", "some-partner", "--role", "KING", "--name", "x")
    assert bad_role.exit_code == 2  # click's usage error names the choices


def test_corridor_partners_is_a_subcommand_of_the_cli(database_url, schemas) -> None:
    env = {
        **os.environ,
        "CORRIDOR_DATABASE_URL": database_url,
        "CORRIDOR_PARTNERS_DB_SCHEMA": schemas.partners,
    }
    partner_id = f"cli-carrier-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "corridor.cli",
            "partners",
            "add",
            partner_id,
            "--role",
            "CARRIER",
            "--name",
            "X",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["partner"]["role"] == "CARRIER"
