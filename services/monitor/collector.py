"""The monitor's sampling loop and the state behind every API answer.

Every ``refresh_s`` seconds one tick reads, in this order: the topics and their log start / end offsets
(throughput = end-offset deltas between ticks), then concurrently the consumer groups' committed offsets
(lag = end − committed) and the ledger's tables (lifecycle states, commit times of published events).
The live tail runs beside it on its own consumer. A failing source keeps its last answer, marked with
the error, so one broken part never blanks the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from corridor.core.codec import Codec, WireFormatError
from corridor.core.logging import get_logger
from corridor.core.registry_client import RegistryClient, RegistryError
from corridor.core.topics import TRADE_TOPICS
from corridor.monitor.kafka_source import GroupInfo, KafkaSource
from corridor.monitor.latency import SOURCE_TEXT, LatencyTracker
from corridor.monitor.ledger_source import LedgerSource, LedgerUnavailable
from corridor.monitor.live import LiveFeed
from corridor.monitor.settings import MonitorSettings
from corridor.monitor.stats import RateSeries, group_lag, total_lag
from corridor.monitor.views import (
    DLQ_TOPIC,
    group_row,
    jsonable,
    ms,
    sort_groups,
    topic_kind,
    topic_sort_key,
)

log = get_logger("corridor.monitor")

#: Latency percentiles of the chart are over the commits of the last minute at each tick.
LATENCY_CHART_WINDOW_S = 60.0
#: Groups shown in the overview (the API lists them all).
OVERVIEW_GROUPS = 12
#: Longest offset span after a group's commit read to tell transaction markers from records.
MARKER_SPAN = 1_000
#: Time a sample may spend reading those spans (the rest is read at the next sample).
MARKER_READ_S = 1.0


class Monitor:
    def __init__(self, settings: MonitorSettings) -> None:
        self.settings = settings
        self.refresh_s = settings.monitor_refresh_s
        self.kafka = KafkaSource(settings.bootstrap_servers)
        self.ledger = LedgerSource(settings.effective_database_url(), settings.monitor_ledger_schema)
        self.latency = LatencyTracker(settings.monitor_latency_window_s)
        self.live = LiveFeed(
            settings.bootstrap_servers,
            trade_topics=TRADE_TOPICS,
            dlq_topic=DLQ_TOPIC,
            latency=self.latency,
            recent=settings.monitor_recent_events,
            backlog_per_partition=settings.monitor_backlog_per_partition,
            dlq_scan_per_partition=settings.monitor_dlq_scan_per_partition,
        )
        self.registry = RegistryClient(settings.schema_registry_url)
        self.codec = Codec(self.registry, auto_register=False)
        self.keep = settings.monitor_history

        self.partitions: dict[str, list[int]] = {}
        self.begin: dict[tuple[str, int], int] = {}
        self.end: dict[tuple[str, int], int] = {}
        self.series: dict[str, RateSeries] = {}
        self.groups: list[GroupInfo] = []
        self.group_history: dict[str, deque[tuple[float, int]]] = {}
        self.states: dict[str, Any] | None = None
        self.latency_history: deque[tuple[float, float | None, float | None, float | None, int]] = deque(
            maxlen=self.keep
        )
        self.errors: dict[str, str] = {}
        self.sampled_at: float | None = None
        self.tick_ms: float | None = None
        self.ticks = 0
        self.ready = asyncio.Event()
        # clear while a tick is half-way (new offsets, old latency …): views wait for it, so every answer
        # describes one whole sample, the one its ``sampled_at_ms`` names
        self._settled = asyncio.Event()
        self._settled.set()
        self._task: asyncio.Task[None] | None = None
        self._tail_started = False
        self._not_records: dict[tuple[str, int, int, int], int] = {}
        self._previous_spans: set[tuple[str, int, int, int]] = set()

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="monitor-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        await self.live.stop()
        await self.kafka.stop()
        await self.ledger.close()
        await self.registry.close()

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the sampler die: report and go on
                log.exception("monitor_tick_failed")
                self.errors["monitor"] = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(max(0.05, self.refresh_s - (time.monotonic() - started)))

    async def _ensure_kafka(self) -> bool:
        if not self.kafka.started:
            try:
                await self.kafka.start()
            except Exception as exc:
                self.errors["kafka"] = f"cannot reach Kafka at {self.settings.bootstrap_servers}: {exc}"
                return False
        if not self._tail_started:
            try:
                await self.live.start()
                self._tail_started = True
            except Exception as exc:
                self.errors["stream"] = f"the live tail cannot start: {exc}"
        return True

    # -- one tick --------------------------------------------------------------------------------------

    async def settled(self, within: float = 5.0) -> Monitor:
        """This monitor once no tick is half-way (after ``within`` seconds, as it is: never wedge a view)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), within)
        return self

    async def tick(self) -> None:
        t0 = time.perf_counter()
        now = time.time()
        self._settled.clear()
        try:
            if await self._ensure_kafka():
                await self._sample_topics(now)
            await asyncio.gather(self._sample_groups(now), self._sample_ledger(now))
            self.sampled_at = now
        finally:
            self._settled.set()
        self.ticks += 1
        self.tick_ms = (time.perf_counter() - t0) * 1000
        if "kafka" not in self.errors:
            self.ready.set()

    async def _sample_topics(self, now: float) -> None:
        try:
            partitions = await self.kafka.partitions()
            begin, end = await self.kafka.offsets(partitions)
        except Exception as exc:
            self.errors["kafka"] = f"{type(exc).__name__}: {exc}"
            return
        self.errors.pop("kafka", None)
        # a topic whose offsets did not come (deleted meanwhile) is left out of this sample
        partitions = {t: ps for t, ps in partitions.items() if all((t, p) in end for p in ps)}
        self.partitions, self.begin, self.end = partitions, begin, end
        for topic, parts in partitions.items():
            series = self.series.setdefault(topic, RateSeries(self.keep))
            series.add(now, sum(end.get((topic, p), 0) for p in parts))
        for gone in set(self.series) - partitions.keys():
            del self.series[gone]
        if self._tail_started:
            try:
                await self.live.sync(partitions, begin, end)
                self.errors.pop("stream", None)
            except Exception as exc:
                self.errors["stream"] = f"{type(exc).__name__}: {exc}"

    async def _sample_groups(self, now: float) -> None:
        if not self.kafka.started or "kafka" in self.errors:
            return
        try:
            groups = await self.kafka.groups()
        except Exception as exc:
            self.errors["groups"] = f"{type(exc).__name__}: {exc}"
            return
        self.errors.pop("groups", None)
        try:
            await self._count_markers(groups)
        except Exception as exc:  # lag then counts markers as records, as before
            self.errors["markers"] = f"{type(exc).__name__}: {exc}"
        else:
            self.errors.pop("markers", None)
        self.groups = groups
        names = {g.group_id for g in groups}
        for info in groups:
            row_lag = total_lag(group_lag(info.committed, self.end, info.not_records))
            self.group_history.setdefault(info.group_id, deque(maxlen=self.keep)).append((now, row_lag))
        for gone in set(self.group_history) - names:
            del self.group_history[gone]

    async def _count_markers(self, groups: list[GroupInfo]) -> None:
        """Fill each group's ``not_records``: of the offsets between its commit and the end, those a
        read_committed consumer never gets (transaction markers, aborted records).

        Only spans that stood still since the previous sample are read (a group that keeps committing
        has a moving, transient lag; a group at rest is where a marker would show as lag for ever),
        only short ones (``MARKER_SPAN``), each partition once from its earliest such commit up to the
        last stable offset, within ``MARKER_READ_S``; the result is remembered per span."""
        from bisect import bisect_left

        from aiokafka import TopicPartition

        spans: set[tuple[str, int, int, int]] = set()
        for info in groups:
            for (topic, partition), committed in info.committed.items():
                end = self.end.get((topic, partition))
                if end is not None and committed >= 0 and 0 < end - committed <= MARKER_SPAN:
                    spans.add((topic, partition, committed, end))
        todo = [s for s in spans if s not in self._not_records and s in self._previous_spans]
        self._previous_spans = spans
        if todo:
            wanted: dict[TopicPartition, tuple[int, int]] = {}
            for topic, partition, committed, end in todo:
                tp = TopicPartition(topic, partition)
                start, upto = wanted.get(tp, (committed, end))
                wanted[tp] = (min(start, committed), max(upto, end))
            # up to the last stable offset: an open transaction's records are lag (they will be records),
            # and reading towards them would wait for its end; a topic that did not answer: next time
            stable = await self.kafka.stable_offsets(list(wanted))
            unanswered = wanted.keys() - stable.keys()
            wanted = {
                tp: (start, min(upto, stable[tp])) for tp, (start, upto) in wanted.items() if tp in stable
            }
            found, unfinished = await self.kafka.readable(wanted, timeout_s=MARKER_READ_S)
            unfinished |= unanswered
            for topic, partition, committed, end in todo:
                tp = TopicPartition(topic, partition)
                if tp in unfinished:
                    continue  # counted as lag this time; read again at the next sample
                upto = min(end, wanted[tp][1])
                offsets = found[tp]
                records = bisect_left(offsets, upto) - bisect_left(offsets, committed)
                self._not_records[(topic, partition, committed, end)] = max(0, upto - committed - records)
        for info in groups:
            info.not_records = {
                (topic, partition): self._not_records.get((topic, partition, committed, end), 0)
                for (topic, partition), committed in info.committed.items()
                if (end := self.end.get((topic, partition))) is not None
            }
        for gone in set(self._not_records) - spans:
            del self._not_records[gone]

    async def _sample_ledger(self, now: float) -> None:
        try:
            self.states = await self.ledger.states()
            pending = self.latency.pending_ids()
            for event_id, committed_ms in await self.ledger.ingested(pending) if pending else ():
                self.latency.matched(event_id, committed_ms)
            self.errors.pop("ledger", None)
        except LedgerUnavailable as exc:
            self.errors["ledger"] = str(exc)
        except Exception as exc:
            self.errors["ledger"] = f"{type(exc).__name__}: {exc}"
        now_ms = ms(now)
        self.latency.expire(now_ms)
        recent = self.latency.summary(now_ms, LATENCY_CHART_WINDOW_S)
        self.latency_history.append(
            (now, recent["p50_ms"], recent["p95_ms"], recent["p99_ms"], recent["count"])
        )

    # -- views ------------------------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        return {
            "sampled_at_ms": ms(self.sampled_at) if self.sampled_at else None,
            "refresh_s": self.refresh_s,
            "ticks": self.ticks,
            "errors": dict(self.errors),
        }

    def topics_view(self) -> dict[str, Any]:
        topics = []
        for name in sorted(self.partitions, key=topic_sort_key):
            parts = self.partitions[name]
            rows = [
                {
                    "partition": p,
                    "start": self.begin.get((name, p), 0),
                    "end": self.end.get((name, p), 0),
                    "records": self.end.get((name, p), 0) - self.begin.get((name, p), 0),
                }
                for p in parts
            ]
            series = self.series.get(name)
            topics.append(
                {
                    "name": name,
                    "kind": topic_kind(name),
                    "partitions": rows,
                    "end_offset": sum(r["end"] for r in rows),
                    "records": sum(r["records"] for r in rows),
                    "rate": round(series.rate(), 3) if series else 0.0,
                    "rate_1m": round(series.rate_over(60), 3) if series else 0.0,
                    "history": [[ms(t), round(r, 3)] for t, r in series.history()] if series else [],
                }
            )
        return {**self._meta(), "topics": topics}

    def groups_view(
        self, limit: int | None = None, *, pinned: Sequence[str] = (), match: str | None = None
    ) -> dict[str, Any]:
        """Groups, the ledger's first; ``match`` keeps those whose id contains it (any case);
        ``pinned`` ids come first and are never cut by ``limit``."""
        rows = [
            group_row(info, self.end, history=self.group_history.get(info.group_id, ()))
            for info in self.groups
            if not match or match.lower() in info.group_id.lower()
        ]
        ordered = sort_groups(rows, first=self.settings.monitor_ledger_group)
        if pinned:
            ordered = [g for g in ordered if g["group_id"] in pinned] + [
                g for g in ordered if g["group_id"] not in pinned
            ]
        shown = ordered
        if limit:
            shown = ordered[: max(limit, sum(1 for g in ordered if g["group_id"] in pinned))]
        return {
            **self._meta(),
            "ledger_group": self.settings.monitor_ledger_group,
            "count": len(ordered),
            "groups": shown,
        }

    def dlq_view(self, top: int = 8) -> dict[str, Any]:
        parts = self.partitions.get(DLQ_TOPIC)
        series = self.series.get(DLQ_TOPIC)
        depth = sum(self.end.get((DLQ_TOPIC, p), 0) - self.begin.get((DLQ_TOPIC, p), 0) for p in parts or ())
        return {
            **self._meta(),
            "topic": DLQ_TOPIC,
            "exists": parts is not None,
            "depth": depth,
            "end_offset": sum(self.end.get((DLQ_TOPIC, p), 0) for p in parts or ()),
            "rate": round(series.rate(), 3) if series else 0.0,
            "rate_1m": round(series.rate_over(60), 3) if series else 0.0,
            "scanned": self.live.reasons.total,
            "top_reasons": self.live.reasons.top(top),
            "by_error_class": self.live.reasons.by_class(),
            "by_original_topic": dict(self.live.dlq_by_topic.most_common()),
            "recent": list(reversed(self.live.recent_dlq))[:20],
        }

    def latency_view(self) -> dict[str, Any]:
        # relative to the sample, not to the request: two answers about one sample agree
        now_ms = ms(self.sampled_at or time.time())
        summary = self.latency.summary(now_ms)
        sources = summary["sources"]
        main = max(sources, key=lambda s: sources[s]) if sources else None
        return {
            **self._meta(),
            **summary,
            "window_s": self.settings.monitor_latency_window_s,
            "source": main,
            "source_text": SOURCE_TEXT.get(main or "", "no event both seen published and stored yet"),
            "ledger_schema": self.ledger.schema,
            "pending": self.latency.pending,
            "clamped": self.latency.negative,
            "history": [[ms(t), p50, p95, p99, n] for t, p50, p95, p99, n in self.latency_history],
        }

    def trades_view(self) -> dict[str, Any]:
        states = self.states
        return {
            **self._meta(),
            "ledger_schema": self.ledger.schema,
            "available": states is not None and "ledger" not in self.errors,
            "trades": states["trades"] if states else {},
            "shipments": states["shipments"] if states else {},
            "certificates": states["certificates"] if states else {},
            "trades_total": sum(states["trades"].values()) if states else 0,
            "events_stored": states["events"] if states else 0,
            # events the ledger has not accepted (yet), and accepted ones not yet on the accepted stream
            "decisions": states.get("decisions", {}) if states else {},
            "error": self.errors.get("ledger"),
        }

    def overview(self, *, pinned: Sequence[str] = (), match: str | None = None) -> dict[str, Any]:
        topics = self.topics_view()["topics"]
        groups = self.groups_view(limit=OVERVIEW_GROUPS, pinned=pinned, match=match)
        dlq = self.dlq_view()
        latency = self.latency_view()
        trades = self.trades_view()
        trade_topics = [t for t in topics if t["kind"] == "trade"]
        ledger_group = self.settings.monitor_ledger_group
        ledger = next((g for g in self.groups if g.group_id == ledger_group), None)
        ledger_lag = total_lag(group_lag(ledger.committed, self.end, ledger.not_records)) if ledger else None
        return {
            **self._meta(),
            "kpis": {
                "trade_events": sum(t["end_offset"] for t in trade_topics),
                "trade_rate": round(sum(t["rate"] for t in trade_topics), 3),
                "trade_rate_1m": round(sum(t["rate_1m"] for t in trade_topics), 3),
                "ledger_lag": ledger_lag,
                "dlq_depth": dlq["depth"],
                "latency_p95_ms": latency["p95_ms"],
                "trades": trades["trades_total"],
            },
            "topics": topics,
            "groups": groups,
            "dlq": dlq,
            "latency": latency,
            "trades": trades,
            "stream": {"seen": self.live.seen, "subscribers": self.live.subscribers},
            "tick_ms": round(self.tick_ms, 1) if self.tick_ms is not None else None,
        }

    def recent_events(self, limit: int = 50) -> list[dict[str, Any]]:
        return list(self.live.recent)[-limit:]

    # -- one record, decoded -------------------------------------------------------------------------

    async def record(self, topic: str, partition: int, offset: int) -> dict[str, Any]:
        """The record at a position: its headers and its Avro payload decoded through the registry."""
        record = await self.kafka.fetch(topic, partition, offset)
        headers = {
            k: (v.decode("utf-8", "replace") if v is not None else None) for k, v in record.headers or ()
        }
        out: dict[str, Any] = {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
            "timestamp_ms": record.timestamp,
            "headers": headers,
            "size": len(record.value) if record.value is not None else 0,
        }
        try:
            schema_id, full_name, payload = await self.codec.decode_record(record.value or b"")
        except (WireFormatError, RegistryError, ValueError) as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
            out["value_hex"] = (record.value or b"")[:256].hex()
        else:
            out.update({"schema_id": schema_id, "type": full_name, "payload": jsonable(payload)})
        return out
