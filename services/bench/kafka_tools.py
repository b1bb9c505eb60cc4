"""Stage 1: Kafka's own ProducerPerformance and ConsumerPerformance — the broker's ceiling on this machine.

Both run from the stack's jar cache (``java -cp '<libs>/*' org.apache.kafka.tools.…``) with the producer
settings Corridor uses (acks=all, idempotence, linger 5 ms, 256 KiB batches), records of the median size
of our Avro trade events in the Confluent wire format, and no throttling (``--throughput -1``).
"""

from __future__ import annotations

import asyncio
import re
import statistics
from typing import Any

from corridor.bench.common import BenchContext, java_login_file, rate_summary
from corridor.bench.payloads import median_wire_size, wire_sizes

MAIN_PRODUCER = "org.apache.kafka.tools.ProducerPerformance"
MAIN_CONSUMER = "org.apache.kafka.tools.ConsumerPerformance"

_PP_FINAL = re.compile(
    r"(?P<records>\d+) records sent, (?P<rate>[\d.]+) records/sec \((?P<mb>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
    r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, (?P<p999>\d+) ms 99.9th"
)


def parse_producer_performance(output: str) -> dict[str, float]:
    """The summary line ProducerPerformance prints last."""
    matches = list(_PP_FINAL.finditer(output))
    if not matches:
        raise ValueError(f"no ProducerPerformance summary in its output:\n{output[-2000:]}")
    m = matches[-1]
    return {
        "records": int(m["records"]),
        "records_per_s": float(m["rate"]),
        "mb_per_s": float(m["mb"]),
        "avg_latency_ms": float(m["avg"]),
        "max_latency_ms": float(m["max"]),
        "p50_ms": float(m["p50"]),
        "p95_ms": float(m["p95"]),
        "p99_ms": float(m["p99"]),
        "p99_9_ms": float(m["p999"]),
    }


def parse_consumer_performance(output: str) -> dict[str, float]:
    """The CSV header and data line of ConsumerPerformance (``start.time, end.time, … fetch.nMsg.sec``)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("start.time") and i + 1 < len(lines):
            names = [n.strip() for n in line.split(",")]
            values = [v.strip() for v in lines[i + 1].split(",")]
            row = dict(zip(names, values, strict=False))
            return {
                "records": int(float(row["data.consumed.in.nMsg"])),
                "mb": float(row["data.consumed.in.MB"]),
                "records_per_s": float(row["nMsg.sec"]),
                "mb_per_s": float(row["MB.sec"]),
                "rebalance_ms": float(row.get("rebalance.time.ms", "nan")),
                "fetch_ms": float(row.get("fetch.time.ms", "nan")),
                "fetch_records_per_s": float(row.get("fetch.nMsg.sec", "nan")),
            }
    raise ValueError(f"no ConsumerPerformance result in its output:\n{output[-2000:]}")


async def _java(ctx: BenchContext, main: str, args: list[str], wait_s: float = 600) -> str:
    argv = [ctx.java, "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-cp", f"{ctx.libs_dir}/*", main, *args]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), wait_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = out.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{main} exited {proc.returncode}:\n{text[-2000:]}")
    return text


def producer_props(bootstrap_servers: str) -> list[str]:
    """Corridor's producer_config in Java client property names."""
    return [
        f"bootstrap.servers={bootstrap_servers}",
        "acks=all",
        "enable.idempotence=true",
        "linger.ms=5",
        "batch.size=262144",
        "compression.type=none",
        "client.id=corridor-bench-pp",
    ]


async def run(ctx: BenchContext) -> dict[str, Any]:
    size = median_wire_size()
    n = ctx.scale.pp_records
    topic = ctx.topic("pp")
    await ctx.create_topics([topic])
    ctx.progress(f"stage 1 kafka tools: ProducerPerformance, {n:,} records of {size} B on {topic}")
    produced: list[dict[str, float]] = []
    # The login goes in a file: --producer-props takes no value with '=' in it (the JAAS line has some).
    with java_login_file() as login:
        for rep in range(ctx.scale.reps):
            out = await _java(
                ctx,
                MAIN_PRODUCER,
                [
                    "--topic", topic, "--num-records", str(n), "--record-size", str(size),
                    "--throughput", "-1", "--producer.config", login,
                    "--producer-props", *producer_props(ctx.bootstrap_servers),
                ],
            )  # fmt: skip
            result = parse_producer_performance(out)
            produced.append(result)
            ctx.progress(
                f"  ProducerPerformance rep {rep + 1}/{ctx.scale.reps}: "
                f"{result['records_per_s']:,.0f} records/s, "
                f"p99 {result['p99_ms']:.0f} ms"
            )
    consumed: list[dict[str, float]] = []
    with java_login_file() as config_file:
        for rep in range(ctx.scale.reps):
            out = await _java(
                ctx,
                MAIN_CONSUMER,
                [
                    "--bootstrap-server", ctx.bootstrap_servers, "--topic", topic, "--messages", str(n),
                    "--group", ctx.group("cp", str(rep)), "--timeout", "60000",
                    "--consumer.config", config_file,
                ],
            )  # fmt: skip
            result = parse_consumer_performance(out)
            consumed.append(result)
            ctx.progress(
                f"  ConsumerPerformance rep {rep + 1}/{ctx.scale.reps}: "
                f"{result['fetch_records_per_s']:,.0f} records/s (fetch)"
            )
    await ctx.delete_topics([topic])
    return {
        "record_size_bytes": size,
        "event_sizes_bytes": wire_sizes(),
        "records": n,
        "producer": {
            **rate_summary([r["records_per_s"] for r in produced], "records_per_s"),
            "mb_per_s": round(statistics.median(r["mb_per_s"] for r in produced), 2),
            "p50_ms": statistics.median(r["p50_ms"] for r in produced),
            "p99_ms": statistics.median(r["p99_ms"] for r in produced),
            "p99_9_ms": statistics.median(r["p99_9_ms"] for r in produced),
            "runs": produced,
        },
        "consumer": {
            **rate_summary([r["fetch_records_per_s"] for r in consumed], "records_per_s"),
            "mb_per_s": round(statistics.median(r["mb_per_s"] for r in consumed), 2),
            "runs": consumed,
        },
        "settings": "acks=all enable.idempotence=true linger.ms=5 batch.size=262144 --throughput -1",
    }
