"""The demo's last act: a party of the trade reads the trade from its own partner topic, logged in to
the broker's partner listener as itself — what a partner's own system does (README, "Partner
integrations").

``grant_logins`` gives each demo party a Kafka login (SCRAM-SHA-512 credentials, its ACLs and its
topic ``partner.<id>.v1``, as ``corridor partners add`` does) and keeps the passwords in
``<state dir>/demo-kafka-logins.json``, created with mode 0600 (a new password each run: the broker
stores only a salted hash, so the old one cannot be printed again), and a ``read`` login of the schema
registry (``partner-<id>:<password>``, as ``partners add`` prints it) in ``demo-registry-logins.json``
(also 0600; only when the stack's registry users file exists). ``read_own_feed`` then reads with
the SDK until every event of the trade has arrived through the relay, and deletes its consumer group
afterwards, so no demo run leaves a group behind whose lag would grow for ever.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from aiokafka import TopicPartition

from corridor.core import credentials, partners
from corridor.core.kafka import end_offsets, start_group_at
from corridor.core.routing import partner_topic
from corridor.core.settings import get_settings
from corridor.ops.kafka_io import delete_consumer_groups, topic_partitions
from corridor.sdk import PartnerConsumer
from corridor.stack import tls

LOGINS_FILE = "demo-kafka-logins.json"
REGISTRY_LOGINS_FILE = "demo-registry-logins.json"


def _write_secret(path: Path, content: str) -> None:
    """``content`` into ``path``, owner-only from the moment the file exists (no chmod afterwards)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    tmp.replace(path)


async def grant_logins(bootstrap_servers: str, party_ids: Iterable[str], state_dir: Path) -> dict[str, str]:
    """A fresh Kafka password per party (partner id → password), also written to the logins file."""
    logins: dict[str, str] = {}
    for party_id in sorted(set(party_ids)):
        credentials = await partners.grant_kafka_access(bootstrap_servers, party_id)
        logins[party_id] = credentials.password
    _write_secret(state_dir / LOGINS_FILE, json.dumps(logins, indent=2, sort_keys=True) + "\n")
    return logins


def grant_registry_logins(party_ids: Iterable[str], state_dir: Path) -> dict[str, str]:
    """A fresh registry ``read`` login per party (partner id → ``user:password``), as ``partners add``
    makes it, also written to the registry logins file; empty when the stack has no users file."""
    users = credentials.credentials_dir(state_dir) / credentials.REGISTRY_USERS
    if not users.exists():
        return {}
    logins: dict[str, str] = {}
    for party_id in sorted(set(party_ids)):
        user, password = credentials.partner_user(party_id), credentials.new_password()
        credentials.set_user(users, user, password, credentials.READ)
        logins[party_id] = f"{user}:{password}"
    _write_secret(state_dir / REGISTRY_LOGINS_FILE, json.dumps(logins, indent=2, sort_keys=True) + "\n")
    return logins


async def feed_ends(internal_bootstrap: str, partner_id: str) -> dict[TopicPartition, int] | None:
    """The end offsets of ``partner.<partner_id>.v1`` now, or None while the topic does not exist (the
    relay creates it with the partner's first copy; asked without subscribing, so nothing creates it
    here)."""
    topic = partner_topic(partner_id)
    if not await topic_partitions(internal_bootstrap, [topic]):
        return None
    try:
        return await end_offsets(internal_bootstrap, [topic])
    except LookupError:
        return None


async def read_own_feed(
    *,
    internal_bootstrap: str,
    partner_bootstrap: str,
    registry_url: str,
    partner_id: str,
    password: str,
    trade_id: uuid.UUID,
    expected: int,
    registry_user_info: str | None = None,
    cafile: Path | None = None,
    wait_s: float = 60.0,
    since: dict[TopicPartition, int] | None = None,
) -> tuple[str, int]:
    """Read ``partner.<partner_id>.v1`` as the partner until ``expected`` events of ``trade_id`` came;
    (the topic, how many). TimeoutError when the relay did not deliver them in ``wait_s``. The login
    goes over TLS trusting ``cafile``, by default the local stack's CA (``credentials/tls-ca.pem``).

    ``since`` (:func:`feed_ends`, taken before the trade was published) starts the group there, so a
    long-lived stack's history (tens of thousands of copies of earlier runs) is not read first."""
    group = f"{partner_id}.demo-{uuid.uuid4().hex[:8]}"
    if since:
        await start_group_at(internal_bootstrap, group, since)
    seen: set[uuid.UUID] = set()
    consumer = PartnerConsumer(
        bootstrap=partner_bootstrap,
        username=partner_id,
        password=password,
        partner_id=partner_id,
        registry_url=registry_url,
        registry_user_info=registry_user_info,
        group=group,
        cafile=cafile or tls.ca_file(get_settings().state_dir),
        on_undecodable="skip",
    )

    async def read() -> None:
        async with consumer:
            async for record in consumer.records():
                if record.trade_id == trade_id:
                    seen.add(record.event.event_id)
                    if len(seen) >= expected:
                        return

    try:
        await asyncio.wait_for(read(), wait_s)
    except TimeoutError:
        raise TimeoutError(
            f"partner {partner_id} got {len(seen)} of the trade's {expected} events on {consumer.topic} "
            f"within {wait_s:.0f} s; is the relay running (`corridor stack status`)?"
        ) from None
    finally:
        try:
            await delete_consumer_groups(internal_bootstrap, [group])
        except Exception:  # best effort: the group holds no data, only offsets
            pass
    return consumer.topic, len(seen)
