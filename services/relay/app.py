"""The relay's ASGI application: the worker under a supervisor, ``/healthz``, ``/readyz``, ``/metrics``.

Kafka and the registry need not be up when the process starts: the worker is started in the background
and restarted (a fresh consumer, fresh producers, the state read back) after any failure; ``/readyz``
answers 503 until it relays. A database (``CORRIDOR_DATABASE_URL``) is optional: with it, certificate
events carry the verdict of their issuer's signature (services/core/signatures.py) in a header.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from corridor.core import logging as core_logging
from corridor.core import metrics as core_metrics
from corridor.core.codec import Codec
from corridor.core.domain.base import TradeEvent
from corridor.core.registry_client import RegistryClient
from corridor.core.tasks import stop_task
from corridor.relay.relay import Relay, Verifier
from corridor.relay.settings import RelaySettings

log = structlog.get_logger("corridor.relay")

_RESTART_DELAY_S = 2.0


class _StatsCollector(Collector):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        relay: Relay | None = getattr(self.app.state, "relay", None)
        if relay is None:
            return
        s = relay.stats
        for name, value, doc in (
            ("relay_records", s.records, "trade records taken in"),
            ("relay_events_relayed", s.relayed, "events routed to their trade's parties"),
            ("relay_deliveries", s.deliveries, "partner records committed (back-fills included)"),
            ("relay_backfilled", s.backfilled, "earlier events sent to a party that joined a trade later"),
            ("relay_skipped", s.skipped, "undecodable records routed to nobody"),
            ("relay_transactions", s.transactions, "transactions committed"),
            ("relay_transactions_aborted", s.aborted, "transactions aborted"),
            ("relay_history_fetches", s.history_fetches, "earlier events read again for a back-fill"),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily("relay_trades", "trades whose parties the relay holds", value=relay.trades)
        yield GaugeMetricFamily("relay_slots", "partition numbers owned", value=len(relay.slots))
        yield GaugeMetricFamily(
            "relay_restarts", "worker restarts after a failure", value=self.app.state.restarts
        )


async def _verifier(settings: RelaySettings) -> tuple[Verifier | None, Any]:
    """A signature checker over the authorities' keys in PostgreSQL, or None without a database."""
    if not settings.database_url:
        return None, None
    import asyncpg

    from corridor.core import signatures

    try:
        # min_size 0: no connection kept open (and none re-dialled in a loop while PostgreSQL is down).
        pool = await asyncpg.create_pool(settings.database_url, min_size=0, max_size=2, timeout=10)
    except Exception as exc:  # signatures are a courtesy: relay without them rather than not at all
        log.warning("signature_keys_unavailable", error=f"{type(exc).__name__}: {exc}")
        return None, None
    keyring = signatures.KeyringCache(pool, schema=settings.relay_partners_schema)

    async def verify(event: TradeEvent) -> str | None:
        if event.avro_name not in signatures.SIGNED_TYPES:
            return None
        signature = getattr(event, "signature", None)
        try:
            keys = await keyring.get([signature.key_id] if signature is not None else [])
        except Exception as exc:  # never hold an event back for its verdict
            log.warning("signature_check_failed", error=f"{type(exc).__name__}: {exc}")
            return "unverified"
        return signatures.verify_event(event, keys).status.value

    return verify, pool


async def _supervise(app: FastAPI, settings: RelaySettings, registry: RegistryClient) -> None:
    """Run the worker; after any failure, log, wait and start a fresh one (it reads its state back)."""
    while True:
        relay = Relay(settings, Codec(registry, auto_register=False), app.state.verifier)
        if app.state.relay is not None:
            relay.stats = app.state.relay.stats  # counters survive a restart of the worker
        app.state.relay = relay
        try:
            await relay.start()
            await relay.run()
            return  # stopped on request
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            app.state.restarts += 1
            log.error("relay_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        finally:
            with suppress(Exception):
                await relay.stop()
        await asyncio.sleep(_RESTART_DELAY_S)


def create_app(settings: RelaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.verifier, pool = await _verifier(settings)
        registry = RegistryClient(settings.schema_registry_url)
        task = asyncio.create_task(_supervise(app, settings, registry))
        log.info("relay_serving", group_id=settings.relay_group_id, signatures=pool is not None)
        try:
            yield
        finally:
            if app.state.relay is not None:
                app.state.relay.request_stop()
            await stop_task(task, log, "relay")
            await registry.close()
            if pool is not None:
                await pool.close()
            log.info("relay_stopped")

    app = FastAPI(
        title="Corridor Relay",
        description="Every trade event, exactly once, in the partner topics of the trade's parties",
        lifespan=lifespan,
    )
    app.state.relay = None
    app.state.verifier = None
    app.state.restarts = 0
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_StatsCollector(app))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> Response:
        relay: Relay | None = request.app.state.relay
        ready = relay is not None and relay.ready
        body: dict[str, Any] = {"status": "ready" if ready else "not ready"}
        if relay is not None:
            body.update(
                group_id=relay.group_id,
                state_topic=relay.state_topic,
                slots={
                    str(p): {"transactional_id": slot.transactional_id, "trades": len(slot.routes)}
                    for p, slot in sorted(relay.slots.items())
                },
                lag=relay.lag(),
                restarts=request.app.state.restarts,
                stats=relay.stats.as_dict(),
            )
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        """The core's families (``corridor_*``) and the relay's own counters."""
        response: Response = core_metrics.metrics_response(registry)
        return response

    from corridor.core.openapi import Health, Readiness, complete_openapi

    complete_openapi(
        app, responses={("get", "/healthz", "200"): Health, ("get", "/readyz", "200"): Readiness}
    )
    return app


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Corridor's structlog lines, with uvicorn's and aiokafka's stdlib records rendered the same."""
    core_logging.configure_service_logging("relay", level, fmt)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per registry lookup otherwise
    # aiokafka logs every refused connection and every coordinator change at ERROR/WARNING.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL if level.upper() != "DEBUG" else logging.DEBUG)
