"""The webhooks service cannot be made to send requests inside the network (issue 16 item 6).

A real webhooks API (uvicorn in a thread, real PostgreSQL; no dispatcher, so no Kafka) whose allow-list
names exactly one loopback port: the test's own receiver. Everything else on loopback, the private
network and the metadata address is refused by its address — before any connection: 10.0.0.1 and
169.254.169.254 are never contacted, and a loopback listener the test opens records that nothing
connected to it. Also: a redirect is not followed, the endpoint must echo the signed challenge, the
per-partner cap, the body limit before the API key and the API key before the body, secret rotation
with its overlap, and secrets encrypted at rest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from corridor.core import partners
from corridor.webhooks import signing
from corridor.webhooks.app import create_app
from corridor.webhooks.callbacks import CallbackPolicy, guarded_client
from corridor.webhooks.receiver import Receiver
from corridor.webhooks.secrets_box import SecretBox, SecretsKeyError, new_key
from corridor.webhooks.settings import WebhooksSettings
from corridor.webhooks.store import WebhookStore
from tests.integration.ledger.ledger_helpers import drop_schemas, unique
from tests.integration.webhooks.webhooks_helpers import ServerThread

pytestmark = pytest.mark.integration

SECRET = "whsec_ssrf-test-secret-0001"
CAP = 3
LIMIT = 4096


class Listener:
    """A loopback TCP port that counts the connections made to it (it never answers)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


class Redirector:
    """ASGI app answering every request with 307 to ``location``."""

    def __init__(self, location: str) -> None:
        self.location = location

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = [(b"location", self.location.encode())]
        await send({"type": "http.response.start", "status": 307, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


@dataclass
class World:
    url: str
    settings: WebhooksSettings
    listener: Listener
    receiver_url: str  # the allow-listed receiver, which confirms subscriptions signed with SECRET
    redirector_url: str  # allow-listed too; answers 307 to the listener
    auth: dict[str, str]
    partner_id: str


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    opened = Listener()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
async def world(database_url: str, listener: Listener) -> AsyncIterator[World]:
    receiver = ServerThread(Receiver(SECRET), "receiver").start()
    target = f"http://127.0.0.1:{listener.port}/internal"
    redirector = ServerThread(Redirector(target), "redirector").start()
    settings = WebhooksSettings(
        database_url=database_url,
        webhooks_db_schema=unique("webhooks_sec"),
        webhooks_partners_schema=unique("partners_sec"),
        webhooks_allowed_callbacks=f"127.0.0.1:{receiver.port},127.0.0.1:{redirector.port}",
        webhooks_max_subscriptions_per_partner=CAP,
        webhooks_max_request_bytes=LIMIT,
        webhooks_secrets_key=new_key(),
        webhooks_timeout_s=5,
        log_level="WARNING",
    )
    schemas = (settings.webhooks_db_schema, settings.webhooks_partners_schema)
    server = ServerThread(create_app(settings, run_dispatcher=False), "webhooks")
    await asyncio.to_thread(server.start)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        partner_id = f"sec-{uuid.uuid4().hex[:8]}"
        await partners.ensure_schema(pool, schema=settings.webhooks_partners_schema)
        _, key = await partners.add_partner(
            pool, partner_id, "BUYER", partner_id, schema=settings.webhooks_partners_schema
        )
        yield World(
            server.url,
            settings,
            listener,
            f"{receiver.url}/corridor/events",
            f"{redirector.url}/hook",
            {"Authorization": f"Bearer {key}"},
            partner_id,
        )
    finally:
        await pool.close()
        for thread in (server, receiver, redirector):
            await asyncio.to_thread(thread.stop)
        await drop_schemas(database_url, *schemas)


async def subscribe(world: World, callback_url: str, **extra: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=world.url, timeout=30, headers=world.auth) as http:
        return await http.post(
            "/v1/subscriptions", json={"callback_url": callback_url, "secret": SECRET, **extra}
        )


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    (error,) = [e for e in response.json()["errors"] if e["field"] == "callback_url"]
    return str(error["reason"])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/hook", "loopback"),
        ("https://10.0.0.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://localhost:{port}/hook", "localhost resolves to"),
        ("http://[::1]:{port}/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]:{port}/hook", "loopback"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://0.0.0.0/hook", "unspecified"),
    ],
)
async def test_internal_callbacks_are_refused_before_any_connection(
    world: World, url: str, reason: str
) -> None:
    before = world.listener.connections
    response = await subscribe(world, url.format(port=world.listener.port))
    assert reason in refusal(response)
    assert world.listener.connections == before, "nothing may connect to a refused address"


async def test_a_redirect_to_loopback_is_not_followed(world: World) -> None:
    before = world.listener.connections
    reason = refusal(await subscribe(world, world.redirector_url))
    assert "redirects are not followed" in reason
    assert world.listener.connections == before


async def test_the_delivery_client_checks_every_connection_again(world: World) -> None:
    """A name that resolved to a public address when the subscription was made and to loopback at
    delivery time (DNS rebinding) meets the same check when the dispatcher connects."""
    before = world.listener.connections
    async with guarded_client(CallbackPolicy.from_setting(world.settings.webhooks_allowed_callbacks)) as http:
        for url in (f"http://localhost:{world.listener.port}/", f"http://127.0.0.1:{world.listener.port}/"):
            with pytest.raises(httpx.ConnectError, match="refused"):
                await http.post(url, content=b"{}")
        assert (await http.post(world.receiver_url, content=b"{}")).status_code == 401  # allowed: unsigned
    assert world.listener.connections == before


async def test_an_endpoint_that_does_not_echo_the_challenge_gets_no_subscription(world: World) -> None:
    # the receiver knows another secret: the signed verification request fails there (401)
    assert "HTTP 401" in refusal(
        await subscribe(world, world.receiver_url, secret="whsec_not-the-receivers-0")
    )


async def test_cap_rotation_and_secrets_at_rest(world: World, database_url: str) -> None:
    made = []
    for _ in range(CAP):
        response = await subscribe(world, world.receiver_url)
        assert response.status_code == 201, response.text
        made.append(response.json())
    over = await subscribe(world, world.receiver_url)
    assert over.status_code == 409 and f"at most {CAP}" in over.json()["detail"]

    sid = made[0]["id"]
    async with httpx.AsyncClient(base_url=world.url, timeout=30, headers=world.auth) as http:
        rotated = await http.post(f"/v1/subscriptions/{sid}/secret")
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret.startswith("whsec_") and new_secret != SECRET
        until = dt.datetime.fromisoformat(rotated.json()["previous_secret_until"])
        assert until > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
        for extra in made[1:]:
            assert (await http.delete(f"/v1/subscriptions/{extra['id']}")).status_code == 204

    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchrow(
            f'SELECT secret, previous_secret FROM "{world.settings.webhooks_db_schema}".subscriptions '
            "WHERE id = $1",
            uuid.UUID(sid),
        )
    finally:
        await conn.close()
    assert stored["secret"].startswith("enc1:") and stored["previous_secret"].startswith("enc1:")
    assert new_secret not in stored["secret"] and SECRET not in stored["previous_secret"]

    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        box = SecretBox.from_text(world.settings.webhooks_secrets_key or "")
        store = WebhookStore(pool, box, world.settings.webhooks_db_schema)
        subscription = await store.subscription(uuid.UUID(sid), world.partner_id)
        assert subscription is not None
        # during the overlap a delivery carries both signatures; the old receiver still accepts it
        assert subscription.signing_secrets() == [new_secret, SECRET]
        body = b'{"id":"x"}'
        header = signing.sign_all(subscription.signing_secrets(), body)
        signing.verify(header, body, SECRET)
        signing.verify(header, body, new_secret)
        after = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        assert subscription.signing_secrets(after) == [new_secret]
        with pytest.raises(SecretsKeyError):  # another key opens nothing
            WebhookStore(
                pool, SecretBox.from_text(new_key()), world.settings.webhooks_db_schema
            )._subscription(
                await pool.fetchrow(
                    f'SELECT * FROM "{world.settings.webhooks_db_schema}".subscriptions WHERE id = $1',
                    uuid.UUID(sid),
                )
            )
    finally:
        await pool.close()


async def test_body_size_before_the_key_and_the_key_before_the_body(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.url, timeout=30) as http:
        huge = b"{" + b" " * (LIMIT + 10) + b"}"
        # a declared size over the limit: 413 at once, even without a key (nothing read, nothing looked up)
        response = await http.post(
            "/v1/subscriptions", content=huge, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413

        async def stream() -> AsyncIterator[bytes]:
            yield huge

        # no declared size: the key is checked before a byte of the body is read
        response = await http.post("/v1/subscriptions", content=stream())
        assert response.status_code == 401
        response = await http.post("/v1/subscriptions", content=stream(), headers=world.auth)
        assert response.status_code == 413
