"""Background tasks of a service's lifespan (consumer loops, publishers, dispatchers).

``stop_task`` is how every service ends one at shutdown: it gives the task ``grace_s`` seconds to return
after it was asked to stop, then cancels it; an error it ends with is logged, never raised, so one
task's failure does not keep the rest of the shutdown (pools, clients) from running.
"""

from __future__ import annotations

import asyncio
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
