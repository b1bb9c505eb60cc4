"""HTTP routes of the monitor: the page, its JSON APIs, the SSE stream of recent events.

Every JSON answer is what the page draws, so tests compare the same numbers a person sees. Metadata
only, except ``/api/records/{topic}/{partition}/{offset}``, which decodes one record's Avro payload
when someone clicks it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from corridor.core import metrics as core_metrics
from corridor.core.topics import TRADE_TOPICS
from corridor.monitor.collector import Monitor
from corridor.monitor.security import record_topic_allowed
from corridor.monitor.views import DLQ_TOPIC

STATIC_DIR = Path(__file__).parent / "static"
#: Seconds between SSE keep-alive comments (proxies drop silent connections).
KEEPALIVE_S = 15.0
#: Recent events a new SSE client receives first.
STREAM_REPLAY = 50

router = APIRouter()


class NoStoreJSON(JSONResponse):
    """JSON that browsers and proxies never cache (every answer is a live sample)."""

    def __init__(self, content: Any, status_code: int = 200, **kwargs: Any) -> None:
        super().__init__(content, status_code=status_code, **kwargs)
        self.headers["Cache-Control"] = "no-store"


def _monitor(request: Request) -> Monitor:
    monitor: Monitor = request.app.state.monitor
    return monitor


async def _sampled(request: Request) -> Monitor:
    """The monitor with no tick half-way, so one answer is one sample (figures and ``sampled_at_ms``)."""
    return await _monitor(request).settled()


@router.get("/", include_in_schema=False)
async def page() -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/healthz")
async def healthz() -> Response:
    return NoStoreJSON({"status": "ok"})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """The shared Prometheus registry (ADR 8): this process's metrics, ``service="monitor"``."""
    response: Response = core_metrics.metrics_response()
    return response


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """200 once a sample of Kafka succeeded (the page then has numbers to show)."""
    monitor = _monitor(request)
    ready = monitor.ready.is_set() and "kafka" not in monitor.errors
    return NoStoreJSON(
        {"ready": ready, "ticks": monitor.ticks, "errors": monitor.errors}, status_code=200 if ready else 503
    )


@router.get("/api/overview")
async def overview(
    request: Request,
    group: Annotated[list[str] | None, Query(description="groups to show whatever their rank")] = None,
    match: Annotated[
        str | None, Query(max_length=200, description="only groups whose id contains it")
    ] = None,
) -> Response:
    """Everything the page draws in one answer (the 12 first consumer groups; ``/api/groups`` has all)."""
    return NoStoreJSON((await _sampled(request)).overview(pinned=group or (), match=match))


@router.get("/api/topics")
async def topics(request: Request) -> Response:
    return NoStoreJSON((await _sampled(request)).topics_view())


@router.get("/api/groups")
async def groups(request: Request, match: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    return NoStoreJSON((await _sampled(request)).groups_view(match=match))


@router.get("/api/dlq")
async def dlq(request: Request, top: Annotated[int, Query(ge=1, le=1000)] = 8) -> Response:
    """Depth of the dead-letter topic and the ``top`` most frequent reasons of those read."""
    return NoStoreJSON((await _sampled(request)).dlq_view(top=top))


@router.get("/api/latency")
async def latency(request: Request) -> Response:
    return NoStoreJSON((await _sampled(request)).latency_view())


@router.get("/api/trades/states")
async def trade_states(request: Request) -> Response:
    return NoStoreJSON((await _sampled(request)).trades_view())


@router.get("/api/events/recent")
async def recent_events(request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = 50) -> Response:
    return NoStoreJSON({"events": _monitor(request).recent_events(limit)})


@router.get("/api/records/{topic}/{partition}/{offset}")
async def record(request: Request, topic: str, partition: int, offset: int) -> Response:
    """One record with its headers and its decoded Avro payload (what the page shows on click).

    Only of the backbone's own topics (the trade topics and the dead letters) unless the operator named
    more (``CORRIDOR_MONITOR_RECORD_TOPICS``): a partner topic's records are that partner's business."""
    if not record_topic_allowed(topic, (*TRADE_TOPICS, DLQ_TOPIC), request.app.state.record_topics):
        raise HTTPException(
            403,
            f"topic {topic!r} is not one of the backbone's own; CORRIDOR_MONITOR_RECORD_TOPICS opens more",
        )
    monitor = _monitor(request)
    if not monitor.kafka.started:
        raise HTTPException(503, "Kafka is not reachable")
    try:
        return NoStoreJSON(await monitor.record(topic, partition, offset))
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None


def _sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}")
    return ("\n".join(lines) + "\n\n").encode()


@router.get("/api/stream")
async def stream(request: Request, replay: Annotated[int, Query(ge=0, le=1000)] = STREAM_REPLAY) -> Response:
    """Server-sent events: ``event`` for a trade record, ``dlq`` for a dead letter (metadata only).

    A new client first receives the ``replay`` most recent events, then everything live."""
    monitor = _monitor(request)
    queue = monitor.live.subscribe()

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 3000\n\n"
            for item in monitor.recent_events(replay) if replay else ():
                yield _sse("event", item, item["seq"])
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield _sse("dlq" if item.get("kind") == "dlq" else "event", item, item["seq"])
        finally:
            monitor.live.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
