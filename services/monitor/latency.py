"""End-to-end latency, publish → ledger commit, joined on the event id (no I/O; times in epoch ms).

The monitor's tail sees every trade record as it is appended. Its publish time is the producer's
``corridor_published_ms`` header (``TradeProducer`` sets it on every record, ADR 8) when the record
carries one, else the moment the tail received it (a live record reaches a long-polling consumer within
milliseconds of its append). The ledger stores each event with ``ingested_at``, the time of the
transaction that stored it (a few milliseconds before its commit). Each tick the collector asks
the ledger for the ``ingested_at`` of the event ids still pending (a primary-key lookup) and hands
the answers to :meth:`LatencyTracker.matched`.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from corridor.core.envelope import PUBLISHED_MS_HEADER
from corridor.monitor.stats import histogram, percentiles

SOURCE_HEADER = "header"  # publish time from the producer's corridor_published_ms header
SOURCE_OBSERVED = "observed"  # publish time = when the monitor's tail received the record

SOURCE_TEXT = {
    SOURCE_HEADER: "ledger ingested_at − producer's corridor_published_ms header",
    SOURCE_OBSERVED: "ledger ingested_at − time the monitor's tail received the record",
}


def published_ms(headers: Any) -> int | None:
    """The ``corridor_published_ms`` header as an int, if present and numeric."""
    for key, value in headers or ():
        if key == PUBLISHED_MS_HEADER and value is not None:
            try:
                return int(value.decode("ascii") if isinstance(value, bytes) else value)
            except (UnicodeDecodeError, ValueError):
                return None
    return None


@dataclass(frozen=True)
class Measured:
    event_id: str
    committed_ms: int
    latency_ms: float
    source: str


class LatencyTracker:
    """Publish times awaiting their ledger commit, and the latencies measured in a sliding window."""

    def __init__(
        self, window_s: float = 300.0, *, max_pending: int = 200_000, pending_ttl_s: float = 900.0
    ) -> None:
        self.window_ms = window_s * 1000
        self.max_pending = max_pending
        self.pending_ttl_ms = pending_ttl_s * 1000
        self._pending: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._measured: deque[Measured] = deque()
        self.expired = 0  # published events never seen committed within the TTL (another ledger's?)
        self.negative = 0  # commits stamped before the observed publish (clamped to 0 ms)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def published(self, event_id: str, at_ms: int, source: str) -> None:
        """Remember when ``event_id`` was published (the first sighting wins: a redelivery is no news)."""
        if event_id in self._pending:
            return
        self._pending[event_id] = (at_ms, source)
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
            self.expired += 1

    def pending_ids(self, limit: int = 20_000) -> list[str]:
        """The oldest pending event ids, to look up in the ledger."""
        out = []
        for event_id in self._pending:
            out.append(event_id)
            if len(out) >= limit:
                break
        return out

    def matched(self, event_id: str, committed_ms: int) -> Measured | None:
        """The ledger committed ``event_id`` at ``committed_ms``: one latency measured."""
        entry = self._pending.pop(event_id, None)
        if entry is None:
            return None
        published, source = entry
        latency = committed_ms - published
        if latency < 0:
            self.negative += 1
            latency = 0
        measured = Measured(event_id, committed_ms, float(latency), source)
        self._measured.append(measured)
        return measured

    def expire(self, now_ms: int) -> None:
        """Forget measurements older than the window and publications the ledger never stored."""
        while self._measured and self._measured[0].committed_ms < now_ms - self.window_ms:
            self._measured.popleft()
        while self._pending:
            event_id, (at_ms, _) = next(iter(self._pending.items()))
            if at_ms >= now_ms - self.pending_ttl_ms:
                break
            del self._pending[event_id]
            self.expired += 1

    def window(self, now_ms: int, last_s: float | None = None) -> list[Measured]:
        since = now_ms - (last_s * 1000 if last_s is not None else self.window_ms)
        return [m for m in self._measured if m.committed_ms >= since]

    def summary(self, now_ms: int, last_s: float | None = None) -> dict[str, Any]:
        """Percentiles (ms) of the latencies committed in the window, with where the times came from."""
        measured = self.window(now_ms, last_s)
        values = [m.latency_ms for m in measured]
        sources = Counter(m.source for m in measured)
        return {
            "count": len(values),
            **{f"{k}_ms": v for k, v in percentiles(values).items()},
            "max_ms": max(values) if values else None,
            "sources": dict(sources),
            "histogram": [{"le_ms": b.upper_ms, "count": b.count} for b in histogram(values)],
        }
