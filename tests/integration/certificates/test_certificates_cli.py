"""``corridor certificates keys add|list|revoke``, ``sign`` and ``verify --file`` against the real
PostgreSQL (throwaway schemas), for a certificate the ledger has never seen."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from corridor.cli.certificates import certificates as certificates_group
from corridor.cli.partners import partners as partners_group
from tests.integration.ledger.ledger_helpers import drop_schemas, unique

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[3] / "contracts/examples/valid/CertificateIssued.json"


@pytest.fixture
def cli(database_url: str) -> Iterator[Callable[..., Result]]:
    partners_schema, ledger_schema = unique("partners_it"), unique("ledger_it")  # the ledger's: never made
    env = {
        "CORRIDOR_DATABASE_URL": database_url,
        "CORRIDOR_PARTNERS_DB_SCHEMA": partners_schema,
        "CORRIDOR_LEDGER_DB_SCHEMA": ledger_schema,
    }
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        group = partners_group if args[0] == "partners" else certificates_group
        return runner.invoke(group, list(args[1:]), env=env, catch_exceptions=False)

    yield invoke
    asyncio.run(drop_schemas(database_url, partners_schema))


def test_keys_sign_and_verify_a_file(cli: Callable[..., Result], tmp_path: Path) -> None:
    authority = f"tdap-{uuid.uuid4().hex[:6]}"
    refused = cli(
        "certificates", "keys", "add", authority, "--generate", "--private-key-out", str(tmp_path / "x")
    )
    assert refused.exit_code == 1 and "no partner" in refused.output
    assert (
        cli("partners", "add", authority, "--role", "ISSUING_AUTHORITY", "--name", "TDAP test").exit_code == 0
    )

    private = tmp_path / "tdap.pem"
    added = cli(
        "certificates", "keys", "add", authority, "--generate", "--private-key-out", str(private), "--json"
    )
    assert added.exit_code == 0, added.output
    key = json.loads(added.output)
    assert key["partner_id"] == authority and key["key_id"].startswith(f"{authority}-")
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert private.stat().st_mode & 0o777 == 0o600
    again = cli("certificates", "keys", "add", authority, "--generate", "--private-key-out", str(private))
    assert again.exit_code == 1 and "not overwriting" in again.output

    # the contract's example certificate, issued by our authority, signed with the new key
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    example["data"]["issuer"]["party_id"] = example["data"]["sender"] = authority
    unsigned = tmp_path / "certificate.json"
    unsigned.write_text(json.dumps(example, ensure_ascii=False), encoding="utf-8")
    signed_file = tmp_path / "signed.json"
    result = cli("certificates", "sign", str(unsigned), "--key", str(private), "--out", str(signed_file))
    assert result.exit_code == 0, result.output
    signed = json.loads(signed_file.read_text(encoding="utf-8"))
    assert signed["headers"] == example["headers"]  # the document keeps its shape
    assert signed["data"]["signature"]["key_id"] == key["key_id"]
    assert signed["data"]["signature"]["algorithm"] == "Ed25519"

    result = cli("certificates", "verify", "--file", str(signed_file), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] == "valid"

    # altered after signing: one tonne more on the certificate
    signed["data"]["goods"][0]["quantity"]["value"] = "5513.400"
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(signed, ensure_ascii=False), encoding="utf-8")
    result = cli("certificates", "verify", "--file", str(altered))
    assert result.exit_code == 1 and "TAMPERED" in result.output, result.output

    # another authority's public key (PEM) is listed; ours, revoked, makes the certificate revoked
    other = f"ccpit-{uuid.uuid4().hex[:6]}"
    assert cli("partners", "add", other, "--role", "ISSUING_AUTHORITY", "--name", "CCPIT test").exit_code == 0
    from corridor.core import signatures

    pem = tmp_path / "ccpit.pub.pem"
    pem.write_text(signatures.public_key_pem(signatures.public_key_bytes(signatures.generate_private_key())))
    result = cli("certificates", "keys", "add", other, "--public-key", str(pem), "--key-id", f"{other}-2026")
    assert result.exit_code == 0, result.output
    listed = json.loads(cli("certificates", "keys", "list", "--json").output)
    assert sorted((k["partner_id"], k["revoked_at"]) for k in listed) == sorted(
        [(other, None), (authority, None)]
    )
    assert f"{other}-2026" in cli("certificates", "keys", "list", "--partner", other).output

    assert cli("certificates", "keys", "revoke", key["key_id"]).exit_code == 0
    result = cli("certificates", "verify", "--file", str(signed_file), "--json")
    assert result.exit_code == 1 and json.loads(result.output)["verdict"] == "revoked"

    # signed by the other authority's key id, but not by it: unknown signer for this issuer
    result = cli("certificates", "sign", str(unsigned), "--key", str(private), "--key-id", f"{other}-2026")
    assert result.exit_code == 0
    borrowed = tmp_path / "borrowed.json"
    borrowed.write_text(result.output, encoding="utf-8")
    result = cli("certificates", "verify", "--file", str(borrowed), "--json")
    assert json.loads(result.output)["verdict"] == "unknown_signer"

    # no ledger tables in that schema: a certificate number alone cannot be checked
    result = cli("certificates", "verify", "CPFTA-PK-2026-118734")
    assert result.exit_code == 1 and "no ledger tables" in result.output
