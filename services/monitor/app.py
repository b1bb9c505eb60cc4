"""The monitor's ASGI application: lifespan (the sampler and the live tail), routes, static files.

Nothing but the operator token is required to start: with Kafka or PostgreSQL away the page says so in
its banner and fills in as soon as they answer (``/readyz`` is 503 until Kafka has been sampled once).
Every request passes the Host check and the operator login first (security.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from corridor.core import logging as core_logging
from corridor.monitor.collector import Monitor
from corridor.monitor.handlers import STATIC_DIR, router
from corridor.monitor.security import MIN_TOKEN_LENGTH, PUBLIC_PATHS, AllowedHosts, OperatorLogin
from corridor.monitor.settings import MonitorSettings

log = structlog.get_logger("corridor.monitor")


def create_app(settings: MonitorSettings | None = None) -> FastAPI:
    settings = settings or MonitorSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        monitor = Monitor(settings)
        app.state.monitor = monitor
        await monitor.start()
        log.info(
            "monitor_serving",
            bootstrap_servers=settings.bootstrap_servers,
            ledger_schema=settings.monitor_ledger_schema,
            ledger_group=settings.monitor_ledger_group,
        )
        try:
            yield
        finally:
            await monitor.stop()
            log.info("monitor_stopped")

    app = FastAPI(
        title="Corridor Monitor",
        description="Operations dashboard: throughput, consumer lag, dead letters, latency, trade states",
        lifespan=lifespan,
    )
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.record_topics = tuple(t for t in settings.monitor_record_topics.split(",") if t.strip())
    # outermost first: the Host check runs before the login (a rebinding page learns nothing)
    token = settings.effective_token()
    if len(token) < MIN_TOKEN_LENGTH:  # checked now: Starlette builds its middlewares on the first request
        raise ValueError(f"the monitor's operator token must have at least {MIN_TOKEN_LENGTH} characters")
    app.add_middleware(OperatorLogin, token=token)
    app.add_middleware(AllowedHosts, allowed=settings.monitor_allowed_hosts.split(","))
    from corridor.core.openapi import OPERATOR_SCHEMES, OPERATOR_SECURITY, Health, complete_openapi

    # The operator's token (ADR 0023), as Bearer for scripts or Basic (operator / token) for browsers;
    # /healthz and /readyz are open
    def stream_and_readiness(doc: dict[str, Any]) -> None:
        stream = doc["paths"]["/api/stream"]["get"]["responses"]["200"]
        stream["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
        ready = doc["paths"]["/readyz"]["get"]["responses"]["200"]
        ready["content"] = {"application/json": {"schema": _READINESS}}

    from corridor.monitor.api_models import RESPONSES

    complete_openapi(
        app,
        protected=lambda path: path not in PUBLIC_PATHS,
        schemes=OPERATOR_SCHEMES,
        security=OPERATOR_SECURITY,
        error=_plain_error,
        responses={("get", "/healthz", "200"): Health, **RESPONSES},
        extra=stream_and_readiness,
    )
    return app


def _plain_error(schemas: dict[str, Any], description: str) -> dict[str, Any]:
    """The login's refusals are short text (security.py), not JSON."""
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


_READINESS: dict[str, Any] = {
    "title": "MonitorReadiness",
    "type": "object",
    "required": ["ready", "ticks", "errors"],
    "properties": {
        "ready": {"type": "boolean"},
        "ticks": {"type": "integer"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Corridor's structlog lines, with uvicorn's stdlib records rendered the same; aiokafka quiet."""
    core_logging.configure_service_logging("monitor", level, fmt)
    # aiokafka logs routine reconnects and group lookups at ERROR; the page shows what matters
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
