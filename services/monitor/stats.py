"""The monitor's arithmetic, free of I/O: rates from offset samples, percentiles, consumer lag, DLQ reasons.

Everything here is deterministic and takes plain numbers, so the unit tests pin it down exactly; the
collector (``collector.py``) feeds it what it reads from Kafka and PostgreSQL.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# -- throughput ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A topic's end offsets summed over its partitions, at a moment (seconds, any monotonic clock)."""

    at: float
    total: int


def rate_between(earlier: Sample, later: Sample) -> float:
    """Records per second appended between two samples.

    A total that went down (the topic was deleted and created again) or samples out of order give 0:
    no rate can be known across them, and a negative one would be nonsense on a chart.
    """
    elapsed = later.at - earlier.at
    if elapsed <= 0 or later.total < earlier.total:
        return 0.0
    return (later.total - earlier.total) / elapsed


class RateSeries:
    """The last ``keep`` samples of one topic, and the rates they imply."""

    def __init__(self, keep: int = 150) -> None:
        if keep < 2:
            raise ValueError("a rate needs at least two samples")
        self._samples: deque[Sample] = deque(maxlen=keep)

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, at: float, total: int) -> None:
        if self._samples and at <= self._samples[-1].at:
            return  # a clock that did not move: keep the first sample of that instant
        self._samples.append(Sample(at, total))

    @property
    def latest(self) -> Sample | None:
        return self._samples[-1] if self._samples else None

    def rate(self) -> float:
        """Records/s over the last interval (0 until there are two samples)."""
        if len(self._samples) < 2:
            return 0.0
        return rate_between(self._samples[-2], self._samples[-1])

    def rate_over(self, window_s: float) -> float:
        """Average records/s over (about) the last ``window_s`` seconds: from the oldest sample in the
        window to the newest, skipping intervals where the total went down."""
        if len(self._samples) < 2:
            return 0.0
        newest = self._samples[-1]
        appended = 0
        elapsed = 0.0
        later = newest
        for earlier in reversed(list(self._samples)[:-1]):
            if newest.at - earlier.at > window_s + 1e-9:
                break
            if later.total >= earlier.total:
                appended += later.total - earlier.total
            elapsed += later.at - earlier.at
            later = earlier
        return appended / elapsed if elapsed > 0 else 0.0

    def history(self) -> list[tuple[float, float]]:
        """(time of the later sample, records/s) for every interval kept: the chart's points."""
        samples = list(self._samples)
        return [(b.at, rate_between(a, b)) for a, b in itertools.pairwise(samples)]


# -- percentiles ---------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) of values sorted ascending, interpolating linearly between the
    two closest ranks (the usual "linear" definition); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    n = len(sorted_values)
    if n == 0:
        return None
    if n == 1:
        return float(sorted_values[0])
    rank = (n - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, n - 1)
    fraction = rank - low
    return float(sorted_values[low]) + (float(sorted_values[high]) - float(sorted_values[low])) * fraction


def percentiles(values: Iterable[float], qs: Sequence[float] = (50, 95, 99)) -> dict[str, float | None]:
    """``{"p50": …, "p95": …, "p99": …}`` of unsorted values (None when there are none)."""
    ordered = sorted(values)
    return {f"p{q:g}": percentile(ordered, q) for q in qs}


@dataclass(frozen=True)
class Bucket:
    upper_ms: float | None  # None: the overflow bucket
    count: int


#: Latency histogram bounds (ms): roughly ×2 steps from 5 ms to a minute.
LATENCY_BOUNDS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)


def histogram(values: Iterable[float], bounds: Sequence[float] = LATENCY_BOUNDS_MS) -> list[Bucket]:
    """Counts of values ≤ each bound (exclusive of the previous one), plus an overflow bucket."""
    counts = [0] * (len(bounds) + 1)
    for value in values:
        for i, bound in enumerate(bounds):
            if value <= bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
    return [Bucket(bound, count) for bound, count in zip(bounds, counts, strict=False)] + [
        Bucket(None, counts[-1])
    ]


# -- consumer lag -----------------------------------------------------------------------------------


def partition_lag(end_offset: int | None, committed: int | None) -> int | None:
    """Records a group still has to read on one partition: end offset − committed offset.

    Kafka's committed offset is the next record to read, so a group that read everything has lag 0.
    None when either side is unknown (no commit yet: ``committed`` is None or negative). A committed
    offset past the end (a topic recreated) counts as 0, never negative.
    """
    if end_offset is None or committed is None or committed < 0:
        return None
    return max(0, end_offset - committed)


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    end: int | None
    lag: int | None


def group_lag(
    committed: Mapping[tuple[str, int], int],
    end_offsets: Mapping[tuple[str, int], int],
    not_records: Mapping[tuple[str, int], int] | None = None,
) -> list[PartitionLag]:
    """Per-partition lag of one group's committed offsets, sorted by topic and partition.
    ``not_records`` counts offsets after the commit that are no records (transaction markers), which
    are not lag: a consumer that read everything of a transactional partition is one offset short of
    its end after every commit."""
    rows = []
    for (topic, partition), offset in committed.items():
        end = end_offsets.get((topic, partition))
        lag = partition_lag(end, offset)
        if lag is not None and not_records:
            lag = max(0, lag - not_records.get((topic, partition), 0))
        rows.append(PartitionLag(topic, partition, offset if offset >= 0 else None, end, lag))
    return sorted(rows, key=lambda r: (r.topic, r.partition))


def total_lag(rows: Iterable[PartitionLag]) -> int:
    """Sum of the known lags (partitions without a commit count 0)."""
    return sum(r.lag for r in rows if r.lag is not None)


# -- dead letters ------------------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"
)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_HEX = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{12,}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SPACES = re.compile(r"\s+")
REASON_MAX = 160


def reason_pattern(reason: str) -> str:
    """A dead letter's reason with the particulars (ids, numbers) masked, so that the same fault on
    different records counts as one reason: "schema id 12" and "schema id 7" are the same problem."""
    text = _TIMESTAMP.sub("<time>", reason)
    text = _UUID.sub("<id>", text)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("#", text)
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


class ReasonCounter:
    """Dead letters counted by (error class, reason pattern), with the latest full reason of each."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._examples: dict[tuple[str, str], str] = {}
        self.total = 0

    def add(self, error_class: str | None, reason: str | None) -> None:
        key = (error_class or "unknown", reason_pattern(reason or ""))
        self._counts[key] += 1
        self._examples[key] = (reason or "")[:500]
        self.total += 1

    def top(self, n: int = 8) -> list[dict[str, object]]:
        """The ``n`` most frequent reasons, most frequent first (ties by class and pattern)."""
        ranked = sorted(self._counts.items(), key=lambda item: (-item[1], item[0]))
        return [
            {"error_class": cls, "reason": pattern, "count": count, "example": self._examples[(cls, pattern)]}
            for (cls, pattern), count in ranked[:n]
        ]

    def by_class(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (cls, _), count in self._counts.items():
            out[cls] += count
        return dict(sorted(out.items(), key=lambda item: (-item[1], item[0])))
