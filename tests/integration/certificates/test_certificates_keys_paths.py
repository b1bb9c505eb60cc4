"""``certificates keys add``: only issuers get signing keys, and a generated private key lands where
the user is (owner-only from its creation), never in the repository unless asked for."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from corridor.cli.certificates import certificates as certificates_group
from corridor.cli.partners import partners as partners_group
from corridor.core.settings import PROJECT_ROOT
from tests.integration.ledger.ledger_helpers import drop_schemas, unique

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(database_url: str) -> Iterator[Callable[..., Result]]:
    schema = unique("partners_it")
    env = {"CORRIDOR_DATABASE_URL": database_url, "CORRIDOR_PARTNERS_DB_SCHEMA": schema}
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        group = partners_group if args[0] == "partners" else certificates_group
        return runner.invoke(group, list(args[1:]), env=env, catch_exceptions=False)

    yield invoke
    asyncio.run(drop_schemas(database_url, schema))


def test_a_buyer_gets_no_signing_key(cli: Callable[..., Result], tmp_path: Path) -> None:
    buyer = f"buyer-{uuid.uuid4().hex[:6]}"
    assert cli("partners", "add", buyer, "--role", "BUYER", "--name", "B", "--no-kafka").exit_code == 0
    out = tmp_path / "buyer.pem"
    refused = cli("certificates", "keys", "add", buyer, "--generate", "--private-key-out", str(out), "--json")
    assert refused.exit_code == 1
    message = json.loads(refused.output)["error"]["message"]
    assert "is a BUYER, which issues no certificates" in message
    assert "INSPECTION_BODY and ISSUING_AUTHORITY" in message
    assert not out.exists()  # refused before a private key was written


def test_the_private_key_goes_to_the_users_directory_owner_only(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = f"tdap-{uuid.uuid4().hex[:6]}"
    assert (
        cli("partners", "add", issuer, "--role", "ISSUING_AUTHORITY", "--name", "T", "--no-kafka").exit_code
        == 0
    )
    monkeypatch.chdir(PROJECT_ROOT)
    inside = cli("certificates", "keys", "add", issuer, "--generate")
    assert inside.exit_code == 2 and "not writing a private key into the repository" in inside.output
    assert not list(PROJECT_ROOT.glob(f"{issuer}-*.pem"))

    monkeypatch.chdir(tmp_path)
    previous = os.umask(0)  # a permissive umask must not widen the key's mode: 0600 at creation
    try:
        added = cli("certificates", "keys", "add", issuer, "--generate", "--json")
    finally:
        os.umask(previous)
    assert added.exit_code == 0, added.output
    written = Path(json.loads(added.output)["private_key_file"])
    assert written.parent == tmp_path.resolve() and written.name.startswith(f"{issuer}-")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
