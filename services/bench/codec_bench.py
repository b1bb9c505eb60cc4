"""Stage 4: the codec alone against raw fastavro, on the same records and the same parsed schemas.

* encode — ``Codec.encode(event)`` (event model → ``to_avro()`` → wire bytes) against fastavro's
  ``schemaless_writer`` given the record dicts ``to_avro()`` produced beforehand; ``encode_record`` (the
  codec from a dict) shows what the model dump costs.
* decode — ``Codec.decode_record`` (wire bytes → dict: header, cached writer/reader schemas) against
  ``schemaless_reader`` on the Avro bodies; ``decode_event`` (→ the typed model, i.e. validation as well)
  is reported beside them.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from corridor.bench.common import BenchContext, rate_summary
from corridor.bench.payloads import fresh_trades
from corridor.core.codec import Codec


def _timed(fn: Callable[[], None], n: int) -> float:
    begin = time.perf_counter()
    fn()
    return n / (time.perf_counter() - begin)


async def _timed_async(fn: Callable[[], Any], n: int) -> float:
    begin = time.perf_counter()
    await fn()
    return n / (time.perf_counter() - begin)


async def run(ctx: BenchContext) -> dict[str, Any]:
    n = ctx.scale.codec_records
    codec = await ctx.codec()
    events = list(fresh_trades(n))
    schemas = [codec.schemas.event(e.avro_name).parsed for e in events]
    records = [e.to_avro() for e in events]
    writers = [codec._writers[e.avro_name] for e in events]  # the codec's cached (id, schema, header)
    wire = [codec.encode(e) for e in events]
    bodies = [w[5:] for w in wire]
    for data in wire[:50]:
        await codec.decode_record(data)  # resolve the schema ids once (the registry round trip)

    def fastavro_encode() -> None:
        for schema, record in zip(schemas, records, strict=True):
            buf = io.BytesIO()
            schemaless_writer(buf, schema, record)
            buf.getvalue()

    def codec_encode() -> None:
        for event in events:
            codec.encode(event)

    def codec_encode_record() -> None:
        for writer, record in zip(writers, records, strict=True):
            Codec.encode_record(writer, record)

    def fastavro_decode() -> None:
        for schema, body in zip(schemas, bodies, strict=True):
            schemaless_reader(io.BytesIO(body), schema, None)

    async def codec_decode_record() -> None:
        for data in wire:
            await codec.decode_record(data)

    async def codec_decode_event() -> None:
        for data in wire:
            await codec.decode_event(data)

    results: dict[str, list[float]] = {k: [] for k in (
        "fastavro_encode", "codec_encode", "codec_encode_record",
        "fastavro_decode", "codec_decode_record", "codec_decode_event",
    )}  # fmt: skip
    ctx.progress(f"stage 4 codec: {n:,} records (story mix) × {ctx.scale.codec_reps}, encode and decode")
    for rep in range(ctx.scale.codec_reps):
        # interleaved, so drifting machine load hits anchor and codec alike
        results["fastavro_encode"].append(_timed(fastavro_encode, n))
        results["codec_encode"].append(_timed(codec_encode, n))
        results["codec_encode_record"].append(_timed(codec_encode_record, n))
        results["fastavro_decode"].append(_timed(fastavro_decode, n))
        results["codec_decode_record"].append(await _timed_async(codec_decode_record, n))
        results["codec_decode_event"].append(await _timed_async(codec_decode_event, n))
        ctx.progress(
            f"  codec rep {rep + 1}/{ctx.scale.codec_reps}: encode {results['codec_encode'][-1]:,.0f}/s "
            f"(fastavro {results['fastavro_encode'][-1]:,.0f}/s), decode "
            f"{results['codec_decode_record'][-1]:,.0f}/s (fastavro {results['fastavro_decode'][-1]:,.0f}/s)"
        )
    return {
        "records": n,
        "mean_wire_bytes": round(sum(map(len, wire)) / n, 1),
        **{name: rate_summary(rates) for name, rates in results.items()},
    }
