"""Background tasks of a service's lifespan (consumer loops, publishers, dispatchers).

``start_expiry`` runs a store's retention delete every so often (gateway idempotency records, webhook
delivery claims). ``stop_task`` is how every service ends one at shutdown: it gives the task
``grace_s`` seconds to return after it was asked to stop, then cancels it; an error it ends with is
logged, never raised, so one task's failure does not keep the rest of the shutdown (pools, clients)
from running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None, log: Any, what: str, grace_s: float = 15.0) -> None:
    """Wait for ``task`` (already asked to stop) up to ``grace_s`` seconds, then cancel it; log
    ``<what>_stop_failed`` when it ended with an error."""
    if task is None:
        return
    try:
        await asyncio.wait_for(task, timeout=grace_s)
    except (TimeoutError, asyncio.CancelledError):
        task.cancel()
        with suppress(BaseException):
            await task
    except Exception as exc:
        log.warning(f"{what}_stop_failed", error=f"{type(exc).__name__}: {exc}")


async def expire_periodically(
    expire: Callable[[float], Awaitable[int]], retention_s: float, log: Any, what: str
) -> None:
    """Run ``expire(retention_s)`` (deletes rows older than the retention, returns how many) soon after
    start and then every tenth of the retention (at most hourly), for ever; a failure (PostgreSQL away) is
    logged and tried again next time. Every replica may run it: the deletes are idempotent."""
    every = min(3600.0, max(1.0, retention_s / 10))
    await asyncio.sleep(min(every, 30.0))
    while True:
        try:
            removed = await expire(retention_s)
            if removed:
                log.info(f"{what}_expired", rows=removed, retention_s=retention_s)
        except Exception as exc:
            log.warning(f"{what}_expiry_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(every)


def start_expiry(
    expire: Callable[[float], Awaitable[int]], retention_s: float, log: Any, what: str
) -> asyncio.Task[None] | None:
    """``expire_periodically`` as a task, or None when ``retention_s`` is 0 (kept for ever)."""
    if retention_s <= 0:
        return None
    return asyncio.create_task(expire_periodically(expire, retention_s, log, what), name=f"{what}-expiry")
