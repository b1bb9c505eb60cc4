"""The demo's gateway path: each party posts its own events over HTTP with its own API key.

``ensure_partner_keys`` registers every party of the story as a partner (in its role) if it is not one
yet, and keeps the keys in ``<state dir>/demo-keys.json`` (mode 0600) so reruns reuse them; a key that
no longer works (rotated, or the file lost) is replaced by rotating it, and a disabled demo partner is
enabled again. ``publish_via_gateway`` then posts the events in story order, one request per event, and
returns the broker acknowledgements the gateway reports.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import asyncpg
import click
import httpx

from corridor.core import partners
from corridor.core.domain.events import Party
from corridor.core.kafka import Published
from corridor.demo.story import Story

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8080"
KEYS_FILE = "demo-keys.json"


def gateway_url() -> str:
    return os.environ.get("CORRIDOR_GATEWAY_URL", DEFAULT_GATEWAY_URL).rstrip("/")


def gateway_reachable(url: str, timeout: float = 1.5) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _load_keys(path: Path) -> dict[str, str]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _save_keys(path: Path, keys: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(keys, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with contextlib.suppress(OSError):
        tmp.chmod(0o600)
    tmp.replace(path)


async def ensure_partner_keys(
    database_url: str,
    parties: Iterable[Party],
    state_dir: Path,
    *,
    schema: str | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, str]:
    """An API key per party that authenticates as that party (partner id = party id, same role)."""
    schema = schema or os.environ.get("CORRIDOR_PARTNERS_DB_SCHEMA", partners.DEFAULT_SCHEMA)
    path = state_dir / KEYS_FILE
    keys = _load_keys(path)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await partners.ensure_schema(pool, schema=schema)
        for party in parties:
            pid, role = party.party_id, str(party.role)
            partner = await partners.get_partner(pool, pid, schema=schema)
            if partner is None:
                partner, keys[pid] = await partners.add_partner(pool, pid, role, party.name_en, schema=schema)
                say(f"  partner {pid} ({role}) registered")
                continue
            if partner.role != role:
                raise click.ClickException(
                    f"partner {pid} is registered as {partner.role}, but the story needs it as {role}"
                )
            if not partner.active:
                await partners.enable_partner(pool, pid, schema=schema)
                say(f"  partner {pid} was disabled; enabled again for the demo")
            key = keys.get(pid)
            if key is None or await partners.authenticate(pool, key, schema=schema, cache_ttl_s=0) is None:
                keys[pid] = await partners.rotate_key(pool, pid, schema=schema)
                say(f"  partner {pid}: no working key in {path}, rotated it")
    finally:
        await pool.close()
        _save_keys(path, keys)
    return keys


#: How long the demo lets the gateway wait for the ledger's decision on each event (``?wait=accepted``).
DECISION_WAIT_S = 20


async def publish_via_gateway(story: Story, url: str, keys: dict[str, str]) -> list[Published]:
    """Post each event as its sender (structured CloudEvents), in order, waiting for the ledger's
    decision on each (ADR 0027: receipts); the gateway's acks. A rejection stops the demo with the
    ledger's rule and reason; an event still undecided after the wait is reported."""
    acks: list[Published] = []
    undecided: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=DECISION_WAIT_S + 30.0) as client:
        for event in story.events:
            document = {
                "specversion": "1.0",
                "id": str(event.event_id),
                "source": f"/demo/{event.sender}",
                "type": event.avro_name,
                "datacontenttype": "application/json",
                "data": event.model_dump(mode="json"),
            }
            response = await client.post(
                "/v1/events",
                params={"wait": "accepted", "wait_s": DECISION_WAIT_S},
                content=json.dumps(document, ensure_ascii=False).encode(),
                headers={
                    "Content-Type": "application/cloudevents+json",
                    "Authorization": f"Bearer {keys[event.sender]}",
                },
            )
            if response.status_code != 201:
                raise click.ClickException(
                    f"the gateway refused {event.avro_name.rsplit('.', 1)[-1]} from {event.sender}: "
                    f"HTTP {response.status_code} {response.text}"
                )
            body = response.json()
            acks.append(Published(body["event_id"], body["topic"], body["partition"], body["offset"]))
            short = event.avro_name.rsplit(".", 1)[-1]
            if body.get("status") == "rejected":
                receipt = body.get("receipt") or {}
                raise click.ClickException(
                    f"the ledger rejected {short} from {event.sender} ({receipt.get('rule')}): "
                    f"{receipt.get('reason')}"
                )
            if body.get("status") != "accepted":
                undecided.append(f"{short} {body['event_id']}: {body.get('status')}")
    if undecided:
        click.echo(
            f"⚠ {len(undecided)} event(s) not decided by the ledger within {DECISION_WAIT_S}s "
            f"(ask GET /v1/events/<id> later): {'; '.join(undecided)}",
            err=True,
        )
    else:
        click.echo(f"✔ the ledger accepted all {len(acks)} events (receipts: GET /v1/events/<id>)", err=True)
    return acks
