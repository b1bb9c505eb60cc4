"""The webhooks service's ASGI application: lifespan (pool, migrations, the dispatcher), errors.

One process runs the subscription API and the dispatcher. The database is required to start; Kafka and
the registry are not: the dispatcher starts in the background and is restarted until they answer
(``/readyz`` says 503 meanwhile). Any number of processes may run: deliveries and redeliveries are
claimed in PostgreSQL, so none is posted twice by two of them (docs/adr/0012-webhooks.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from corridor.core import logging as core_logging
from corridor.core import partners
from corridor.core.codec import Codec
from corridor.core.problems import install_problem_handlers
from corridor.core.registry_client import RegistryClient
from corridor.core.tasks import start_expiry, stop_task
from corridor.webhooks.callbacks import CallbackPolicy, guarded_client
from corridor.webhooks.delivery import USER_AGENT
from corridor.webhooks.dispatcher import Dispatcher
from corridor.webhooks.handlers import RequestSizeLimit, router
from corridor.webhooks.secrets_box import SecretBox
from corridor.webhooks.settings import WebhooksSettings
from corridor.webhooks.store import WebhookStore

log = structlog.get_logger("corridor.webhooks")

_RESTART_DELAY_S = 2.0


async def _supervise(dispatcher: Dispatcher) -> None:
    """Keep the dispatcher's consumer running: on a failure, log, wait, start a fresh one."""
    while True:
        try:
            await dispatcher.consume()
            return  # stopped on request
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("dispatcher_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(_RESTART_DELAY_S)


def create_app(settings: WebhooksSettings, *, run_dispatcher: bool = True) -> FastAPI:
    """The webhooks app. ``run_dispatcher=False`` serves the API only (redeliveries still run).

    Refuses to build without the secrets key or with a malformed allow-list (a clear error at startup).
    """
    box = SecretBox.from_text(settings.effective_secrets_key())
    policy = CallbackPolicy.from_setting(settings.webhooks_allowed_callbacks)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.database_url:
            raise RuntimeError("CORRIDOR_DATABASE_URL is not set")
        try:
            store = await WebhookStore.open(
                settings.database_url,
                box,
                db_schema=settings.webhooks_db_schema,
                min_size=settings.webhooks_pool_min_size,
                max_size=max(settings.webhooks_pool_max_size, settings.webhooks_pool_min_size),
            )
            await partners.ensure_schema(store.pool, schema=settings.webhooks_partners_schema)
        except Exception as exc:
            log.error("webhooks_database_unavailable", error=f"{type(exc).__name__}: {exc}")
            raise
        registry = RegistryClient(settings.schema_registry_url)
        dispatcher = Dispatcher(
            settings=settings,
            store=store,
            codec=Codec(registry, auto_register=False),
            http=guarded_client(policy, headers={"User-Agent": USER_AGENT}),
        )
        app.state.store = store
        app.state.dispatcher = dispatcher
        app.state.partners_schema = settings.webhooks_partners_schema
        app.state.allow_http = settings.webhooks_allow_http
        app.state.settings = settings
        app.state.policy = policy
        task = asyncio.create_task(_supervise(dispatcher)) if run_dispatcher else None
        expiry = start_expiry(
            store.expire_deliveries, settings.webhooks_delivery_retention_s, log, "deliveries"
        )
        log.info(
            "webhooks_serving", db_schema=settings.webhooks_db_schema, group_id=settings.webhooks_group_id
        )
        try:
            yield
        finally:
            await dispatcher.stop()
            await stop_task(task, log, "dispatcher")
            await stop_task(expiry, log, "deliveries_expiry", grace_s=0)
            await registry.close()
            await store.close()
            log.info("webhooks_stopped")

    app = FastAPI(
        title="Corridor Webhooks",
        description=(
            "Push delivery of your partner topic's events: subscriptions with filters, a callback URL "
            "and a shared secret; each event is POSTed as a CloudEvents JSON document signed with "
            "Corridor-Signature (docs/webhooks-receiver.md)."
        ),
        lifespan=lifespan,
    )
    app.include_router(router)
    app.add_middleware(RequestSizeLimit, limit=settings.webhooks_max_request_bytes)
    install_problem_handlers(app, log, service="webhooks", unavailable_detail="the database is unavailable")
    _document(app)
    return app


def _document(app: FastAPI) -> None:
    """The OpenAPI document: the partner API key on /v1/, the answers' models, and the callback as
    OpenAPI 3.1 ``webhooks``."""
    from corridor.core.openapi import Health, complete_openapi
    from corridor.webhooks import api_models as m

    subscription = "/v1/subscriptions/{subscription_id}"
    complete_openapi(
        app,
        protected=lambda path: path.startswith("/v1/"),
        responses={
            ("get", "/healthz", "200"): Health,
            ("get", "/readyz", "200"): m.Readiness,
            ("post", "/v1/subscriptions", "201"): m.CreatedSubscription,
            ("get", "/v1/subscriptions", "200"): m.SubscriptionList,
            ("get", subscription, "200"): m.SubscriptionView,
            ("get", f"{subscription}/dead-letters", "200"): m.DeadLetterList,
            ("post", f"{subscription}/redeliver", "200"): m.Redelivery,
            ("post", f"{subscription}/redeliver", "202"): m.Redelivery,
            ("post", f"{subscription}/secret", "200"): m.CreatedSubscription,  # with the new secret
        },
        extra=m.webhooks_section,
    )


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Corridor's structlog lines, with uvicorn's stdlib records rendered the same; other libraries'
    stdlib records at WARNING and above (aiokafka reconnects, httpx's one line per request otherwise)."""
    core_logging.configure_service_logging("webhooks", level, fmt)
    logging.getLogger().setLevel(max(logging.getLevelNamesMapping()[level.upper()], logging.WARNING))
    for noisy in ("aiokafka", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
