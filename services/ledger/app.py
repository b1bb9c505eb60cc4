"""The ledger's ASGI application: lifespan (pool, migrations, the consumer task), errors, logging.

One process runs both the consumer and the query API. The database is required to start (the lifespan
fails with the reason otherwise); Kafka and the registry are not: the consumer starts in the background
and retries until they answer, and ``/readyz`` says 503 meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from corridor.core import logging as core_logging
from corridor.core import partners, signatures, tracing
from corridor.core.codec import Codec
from corridor.core.problems import install_problem_handlers
from corridor.core.registry_client import RegistryClient
from corridor.core.tasks import stop_task
from corridor.ledger.consumer import Ledger
from corridor.ledger.handlers import router
from corridor.ledger.publisher import Publisher
from corridor.ledger.settings import LedgerSettings
from corridor.ledger.store import LedgerStore
from corridor.ledger.topics import quiet_aiokafka

log = structlog.get_logger("corridor.ledger")

_RESTART_DELAY_S = 2.0


class _StatsCollector(Collector):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        ledger: Ledger | None = getattr(self.app.state, "ledger", None)
        if ledger is None:
            return
        s = ledger.stats
        for name, value, doc in (
            ("ledger_batches", s.batches, "batches processed"),
            ("ledger_records", s.records, "records consumed (trade and retry topics)"),
            ("ledger_events_stored", s.stored, "events appended to the ledger"),
            ("ledger_events_duplicate", s.duplicates, "redelivered events skipped"),
            ("ledger_events_parked", s.parked, "events parked in a retry topic"),
            ("ledger_events_retried_applied", s.retried_applied, "parked events applied on a retry"),
            ("ledger_batch_failures", s.failures, "batches retried after an infrastructure failure"),
        ):
            yield CounterMetricFamily(name, doc, value=value)
        dead = CounterMetricFamily(
            "ledger_events_dead_lettered", "events dead-lettered", labels=["error_class"]
        )
        for error_class, count in sorted(s.dead_by_class.items()):
            dead.add_metric([error_class], count)
        yield dead
        publisher: Publisher | None = getattr(self.app.state, "publisher", None)
        if publisher is not None:
            yield CounterMetricFamily(
                "ledger_events_published",
                "accepted events put on trade.accepted.v1",
                value=publisher.stats.published,
            )
        yield GaugeMetricFamily(
            "ledger_cached_trades", "trade states cached in memory", value=len(ledger.cache)
        )
        yield GaugeMetricFamily(
            "ledger_assigned_partitions", "partitions assigned", value=len(ledger.assigned)
        )


async def _supervise(app: FastAPI, settings: LedgerSettings, registry: RegistryClient) -> None:
    """Start the consumer and keep it running: on any failure, log, wait, start a fresh one."""
    while True:
        ledger = Ledger(
            bootstrap_servers=settings.bootstrap_servers,
            codec=Codec(registry, auto_register=False),
            store=app.state.store,
            group_id=settings.ledger_group_id,
            retry_delays_s=settings.ledger_retry_delays_s,
            start_from=settings.ledger_start_from,
            batch_max_records=settings.ledger_batch_max_records,
            cache_trades=settings.ledger_cache_trades,
            hold_s=settings.ledger_hold_s,
            max_hold_s=settings.ledger_max_hold_s,
            keyring=signatures.KeyringCache(app.state.store.pool, schema=settings.ledger_partners_schema),
            on_stored=app.state.publisher.wake if app.state.publisher is not None else None,
        )
        if app.state.ledger is not None:
            ledger.stats = app.state.ledger.stats  # counters survive a restart of the consumer
        app.state.ledger = ledger
        try:
            await ledger.start()
            await ledger.run()
            return  # stopped on request
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("consumer_failed", error=f"{type(exc).__name__}: {exc}", exc_info=True)
        finally:
            with suppress(Exception):
                await ledger.stop()
        await asyncio.sleep(_RESTART_DELAY_S)


def create_app(settings: LedgerSettings, *, run_consumer: bool | None = None) -> FastAPI:
    """The ledger app. ``run_consumer=False`` (default: ``ledger_consume``) serves the query API only,
    over the tables other ledger processes fill."""
    if run_consumer is None:
        run_consumer = settings.ledger_consume
    tracing.configure_tracing("ledger")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url:
            raise RuntimeError("CORRIDOR_DATABASE_URL is not set")
        try:
            store = await LedgerStore.open(
                settings.database_url,
                db_schema=settings.ledger_db_schema,
                min_size=settings.ledger_pool_min_size,
                max_size=max(settings.ledger_pool_max_size, settings.ledger_pool_min_size),
            )
            await partners.ensure_schema(store.pool, schema=settings.ledger_partners_schema)
            await signatures.ensure_schema(store.pool, schema=settings.ledger_partners_schema)
        except Exception as exc:
            log.error("ledger_database_unavailable", error=f"{type(exc).__name__}: {exc}")
            raise
        app.state.store = store
        app.state.partners_schema = settings.ledger_partners_schema
        app.state.receipt_max_wait_s = settings.ledger_receipt_max_wait_s
        #: receipt requests that may wait at once (each polls the database): more answer at once
        app.state.receipt_waiters = asyncio.Semaphore(256)
        app.state.ledger = None
        registry = RegistryClient(settings.schema_registry_url)
        publisher = app.state.publisher = (
            Publisher(
                bootstrap_servers=settings.bootstrap_servers,
                store=store,
                topic=settings.ledger_accepted_topic,
                pause_before_publish_ms=settings.ledger_publish_pause_ms,
            )
            if run_consumer
            else None
        )
        publishing = asyncio.create_task(publisher.run()) if publisher is not None else None
        task = asyncio.create_task(_supervise(app, settings, registry)) if run_consumer else None
        log.info("ledger_serving", db_schema=settings.ledger_db_schema, group_id=settings.ledger_group_id)
        try:
            yield
        finally:
            if app.state.ledger is not None:
                app.state.ledger.request_stop()
            await stop_task(task, log, "consumer")
            if publisher is not None:
                publisher.request_stop()
            await stop_task(publishing, log, "publisher")
            await registry.close()
            await store.close()
            log.info("ledger_stopped")

    app = FastAPI(
        title="Corridor Ledger",
        description="Every trade event stored exactly once; each trade's current state for its parties",
        lifespan=lifespan,
    )
    app.state.ledger = None
    app.state.publisher = None
    app.state.api_only = not run_consumer
    metrics = CollectorRegistry(auto_describe=True)
    metrics.register(_StatsCollector(app))
    app.state.metrics = metrics
    app.include_router(router)
    install_problem_handlers(
        app,
        log,
        service="ledger",
        unavailable_detail="the ledger's database is unavailable",
        internal_detail="unexpected error; see the ledger's log",
    )
    _document(app)
    return app


def _document(app: FastAPI) -> None:
    """The ledger's OpenAPI document: the partner API key on /v1/, and the JSON answers' models."""
    from corridor.core.openapi import Health, complete_openapi
    from corridor.ledger import api_models as m

    complete_openapi(
        app,
        protected=lambda path: path.startswith("/v1/"),
        responses={
            ("get", "/healthz", "200"): Health,
            ("get", "/readyz", "200"): m.Readiness,
            ("get", "/v1/trades/{trade_id}", "200"): m.TradeView,
            ("get", "/v1/trades", "200"): m.TradePage,
            ("get", "/v1/certificates/{number}/verify", "200"): m.CertificateCheck,
            ("get", "/v1/events/{event_id}", "200"): m.Receipt,
        },
    )


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Corridor's structlog JSON lines, with uvicorn's and aiokafka's stdlib records rendered the same."""
    core_logging.configure_service_logging("ledger", level, fmt)
    quiet_aiokafka()
