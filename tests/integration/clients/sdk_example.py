"""The Python SDK's side of the partner-client comparison (tests/integration/clients): reads a partner
topic with ``corridor.sdk.PartnerConsumer``, verifies certificates with ``corridor.core.signatures``
against the keys in ``KEYRING_FILE``, and prints the JSON line per record every example client prints
(clients/README.md). Same environment as the other examples."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import sys
import uuid
from decimal import Decimal
from typing import Any

from corridor.core import signatures
from corridor.sdk import PartnerConsumer, PartnerRecord


def plain(value: Any) -> Any:
    """The plain form of contracts/vectors/README.md."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC)
        return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "value") and not isinstance(value, str | int | bool):
        return plain(value.value)  # an enum
    return value


def describe(record: PartnerRecord, keyring: dict[str, signatures.AuthorityKey]) -> dict[str, Any]:
    event = record.event
    value = plain(event.to_avro())
    certificate = None
    if event.avro_name in signatures.SIGNED_TYPES:
        verdict = signatures.verify_event(event, keyring)
        altered = event.model_copy(update={"certificate_number": f"{value['certificate_number']}-X"})
        certificate = {
            "number": verdict.certificate_number,
            "verdict": verdict.status.value,
            "key_id": verdict.key_id,
            "signer": verdict.signer,
            "tampered_copy_verdict": signatures.verify_event(altered, keyring).status.value,
        }
    canonical = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return {
        "partition": record.partition,
        "offset": record.offset,
        "key": str(record.trade_id),
        "ce_id": record.headers.get("ce_id"),
        "ce_type": record.headers.get("ce_type"),
        "type": event.avro_name,
        "trade_id": value["trade_id"],
        "sender": value["sender"],
        "occurred_at": value["occurred_at"],
        "value_sha256": hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        "certificate": certificate,
    }


def load_keyring(path: str) -> dict[str, signatures.AuthorityKey]:
    with open(path, encoding="utf-8") as f:
        keys = json.load(f)
    return signatures.keyring_of(
        signatures.AuthorityKey(
            k["partner_id"],
            k["key_id"],
            base64.b64decode(k["public_key"]),
            revoked_at=dt.datetime.fromisoformat(k["revoked_at"]) if k.get("revoked_at") else None,
        )
        for k in keys
    )


async def main() -> None:
    partner_id = os.environ["PARTNER_ID"]
    keyring = load_keyring(os.environ["KEYRING_FILE"])

    async def handle(record: PartnerRecord) -> None:
        sys.stdout.write(json.dumps(describe(record, keyring), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    async with PartnerConsumer(
        bootstrap=os.environ["PARTNER_BOOTSTRAP"],
        username=partner_id,
        password=os.environ["PARTNER_PASSWORD"],
        partner_id=partner_id,
        registry_url=os.environ["SCHEMA_REGISTRY_URL"],
        registry_user_info=os.environ["SCHEMA_REGISTRY_USER_INFO"],
        group=os.environ.get("PARTNER_GROUP") or f"{partner_id}.python-example",
        cafile=os.environ.get("PARTNER_CA_FILE"),  # TLS with the CA `partners add` printed
    ) as consumer:
        await consumer.run(
            handle,
            max_records=int(os.environ.get("MAX_RECORDS", "0")) or None,
            idle_timeout=float(os.environ.get("IDLE_TIMEOUT_S", "20")),
        )


if __name__ == "__main__":
    asyncio.run(main())
