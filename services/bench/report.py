# ruff: noqa: E501 (Markdown table rows read better unbroken)
"""The bench's outputs: ``results.json`` (everything), ``results.md`` (summary, ratios, targets, each
stage) and ``results.png`` (throughputs beside their anchors, end-to-end latency percentiles, scaling).

Every ratio divides a Corridor figure by its anchor *from the same run*; every target is marked met,
missed or not run.
"""

from __future__ import annotations

import json
import math
import statistics
import warnings
from pathlib import Path
from typing import Any

from corridor.bench.common import OPTIONAL_STAGES, STAGES

#: The targets of issue 7, and the per-core targets of issue 23 (CPU per event, end-to-end p99 at
#: 5,000 events/s in batches).
PRODUCE_VS_RAW_MIN = 0.50
CODEC_VS_FASTAVRO_MIN = 0.70
LEDGER_MIN = 10_000
GATEWAY_BATCH_MIN = 3_000
E2E_P99_MAX_MS = 50.0
E2E_TARGET_RATE = 1_000
E2E_BATCH_RATE = 5_000
GATEWAY_SINGLE_CPU_MS_MAX = 0.5
GATEWAY_BATCH_CPU_MS_MAX = 0.12


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b or math.isnan(a):
        return None
    return round(a / b, 4)


def ratios(stages: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Corridor ÷ anchor, each with both figures."""
    produce = _get(stages, "produce", "producer", "events_per_s")
    raw = _get(stages, "raw_kafka", "producer", "events_per_s")
    raw_consume = _get(stages, "raw_kafka", "consumer", "events_per_s")
    pp = _get(stages, "kafka_tools", "producer", "records_per_s")
    cp = _get(stages, "kafka_tools", "consumer", "records_per_s")
    codec = stages.get("codec", {})
    rows = {
        "corridor_produce_vs_raw_aiokafka": (produce, raw, "Corridor produce path", "raw aiokafka produce"),
        "corridor_produce_vs_producer_performance": (
            produce, pp, "Corridor produce path", "Kafka ProducerPerformance",
        ),
        "raw_aiokafka_vs_producer_performance": (raw, pp, "raw aiokafka produce", "Kafka ProducerPerformance"),
        "codec_encode_vs_fastavro": (
            _get(codec, "codec_encode", "events_per_s"), _get(codec, "fastavro_encode", "events_per_s"),
            "Codec.encode (model → wire)", "fastavro schemaless_writer",
        ),
        "codec_decode_vs_fastavro": (
            _get(codec, "codec_decode_record", "events_per_s"), _get(codec, "fastavro_decode", "events_per_s"),
            "Codec.decode_record (wire → dict)", "fastavro schemaless_reader",
        ),
        "codec_decode_event_vs_fastavro": (
            _get(codec, "codec_decode_event", "events_per_s"), _get(codec, "fastavro_decode", "events_per_s"),
            "Codec.decode_event (wire → model)", "fastavro schemaless_reader",
        ),
        "raw_aiokafka_consume_vs_consumer_performance": (
            raw_consume, cp, "raw aiokafka consume", "Kafka ConsumerPerformance",
        ),
        "ledger_vs_raw_aiokafka_consume": (
            _get(stages, "ledger", "events_per_s"), raw_consume, "ledger ingest", "raw aiokafka consume",
        ),
        "gateway_batches_vs_corridor_produce": (
            _best_batch(stages), produce, "gateway, best batch size", "Corridor produce path",
        ),
    }  # fmt: skip
    out = {
        name: {"corridor": a, "anchor": b, "ratio": _ratio(a, b), "corridor_figure": fa, "anchor_figure": fb}
        for name, (a, b, fa, fb) in rows.items()
    }
    # The codec and its anchor are timed back to back in each repetition: the median of the per-repetition
    # ratios cancels load drift between repetitions better than the ratio of two medians.
    for name, ours, anchor in (
        ("codec_encode_vs_fastavro", "codec_encode", "fastavro_encode"),
        ("codec_decode_vs_fastavro", "codec_decode_record", "fastavro_decode"),
        ("codec_decode_event_vs_fastavro", "codec_decode_event", "fastavro_decode"),
    ):
        a_reps, b_reps = _get(codec, ours, "reps"), _get(codec, anchor, "reps")
        if a_reps and b_reps and len(a_reps) == len(b_reps) and all(b_reps):
            out[name]["ratio"] = round(
                statistics.median(x / y for x, y in zip(a_reps, b_reps, strict=True)), 4
            )
            out[name]["ratio_method"] = "median of per-repetition ratios"
    return out


def _best_batch(stages: dict[str, Any]) -> float | None:
    rates = [_get(stages, "gateway", m, "events_per_s") for m in ("batch_100", "batch_500")]
    return max((r for r in rates if r is not None), default=None)


def _e2e_load(stages: dict[str, Any], rate: int, mode: str) -> dict[str, Any] | None:
    for load in _get(stages, "e2e", "loads") or []:
        if load.get("offered_events_per_s") == rate and load.get("mode") == mode:
            return dict(load)
    return None


def _hot(stages: dict[str, Any], source: str, *path: str) -> dict[str, Any] | None:
    """The hot frames at ``path`` (``corridor.bench.hot``) with where they were profiled, if any."""
    found = _get(stages, *path, "hot_frames")
    if not isinstance(found, dict) or not found.get("frames"):
        return None
    return {"source": source, **found}


def _best_batch_cpu(stages: dict[str, Any]) -> tuple[float | None, str | None]:
    """The lower gateway CPU ms per batched event (batches of 100 or 500) and its mode."""
    found = [
        (v, m)
        for m in ("batch_100", "batch_500")
        if isinstance(v := _get(stages, "gateway", m, "gateway_cpu_ms_per_event"), int | float)
    ]
    return min(found) if found else (None, None)


def _e2e_bound(stages: dict[str, Any], load: dict[str, Any] | None, mode: str) -> dict[str, Any] | None:
    """What bounds an end-to-end load: the process with the larger CPU share while it ran, and that
    process's hot frames from its own stage (the gateway's for this request mode, or the ledger's)."""
    if not load:
        return None
    gateway, ledger = load.get("gateway_cpu_share") or 0.0, load.get("ledger_cpu_share") or 0.0
    if gateway >= ledger:
        gw_mode = "single" if mode == "single" else "batch_100"
        hot = _hot(stages, f"gateway process, stage 6 ({gw_mode})", "gateway", gw_mode)
        busiest = {"process": "gateway", "cpu_share": gateway}
    else:
        hot = _hot(stages, "ledger, stage 5", "ledger")
        busiest = {"process": "ledger", "cpu_share": ledger}
    return {**(hot or {"source": "not profiled", "frames": []}), "busiest": busiest}


def targets(stages: dict[str, Any], ratio_rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target with its measured value, its status and, where a profile was taken, what bounds
    it (``bounded_by``: the hot frames of the process that did the work)."""

    def status(value: Any, ok: bool) -> str:
        return "not run" if value is None else ("met" if ok else "missed")

    out = []
    r = ratio_rows["corridor_produce_vs_raw_aiokafka"]["ratio"]
    out.append({
        "target": f"produce path ≥ {PRODUCE_VS_RAW_MIN:.0%} of raw aiokafka",
        "measured": r, "unit": "ratio", "status": status(r, r is not None and r >= PRODUCE_VS_RAW_MIN),
        "bounded_by": _hot(stages, "bench process, stage 3", "produce"),
    })  # fmt: skip
    for name, label in (("codec_encode_vs_fastavro", "encode"), ("codec_decode_vs_fastavro", "decode")):
        r = ratio_rows[name]["ratio"]
        out.append({
            "target": f"codec {label} ≥ {CODEC_VS_FASTAVRO_MIN:.0%} of raw fastavro",
            "measured": r, "unit": "ratio", "status": status(r, r is not None and r >= CODEC_VS_FASTAVRO_MIN),
            "bounded_by": None,
        })  # fmt: skip
    ledger = _get(stages, "ledger", "events_per_s")
    out.append({
        "target": f"ledger ≥ {LEDGER_MIN:,} events/s per process",
        "measured": ledger, "unit": "events/s", "status": status(ledger, ledger is not None and ledger >= LEDGER_MIN),
        "bounded_by": _hot(stages, "ledger, stage 5", "ledger"),
    })  # fmt: skip
    best = _best_batch(stages)
    best_mode = max(
        ("batch_100", "batch_500"), key=lambda m: _get(stages, "gateway", m, "events_per_s") or 0.0
    )
    out.append({
        "target": f"gateway ≥ {GATEWAY_BATCH_MIN:,} events/s in one process with batches (best of 100, 500)",
        "measured": best, "unit": "events/s", "status": status(best, best is not None and best >= GATEWAY_BATCH_MIN),
        "bounded_by": _hot(stages, f"gateway process, stage 6 ({best_mode})", "gateway", best_mode),
    })  # fmt: skip
    single_cpu = _get(stages, "gateway", "single", "gateway_cpu_ms_per_event")
    out.append({
        "target": f"gateway CPU ≤ {GATEWAY_SINGLE_CPU_MS_MAX} ms per single-event request",
        "measured": single_cpu, "unit": "ms CPU",
        "status": status(single_cpu, single_cpu is not None and single_cpu <= GATEWAY_SINGLE_CPU_MS_MAX),
        "bounded_by": _hot(stages, "gateway process, stage 6 (single)", "gateway", "single"),
    })  # fmt: skip
    batch_cpu, batch_mode = _best_batch_cpu(stages)
    out.append({
        "target": f"gateway CPU ≤ {GATEWAY_BATCH_CPU_MS_MAX} ms per batched event (best of 100, 500)",
        "measured": batch_cpu, "unit": "ms CPU",
        "status": status(batch_cpu, batch_cpu is not None and batch_cpu <= GATEWAY_BATCH_CPU_MS_MAX),
        "bounded_by": _hot(stages, f"gateway process, stage 6 ({batch_mode})", "gateway", batch_mode or ""),
    })  # fmt: skip
    for rate, mode, label in (
        (E2E_TARGET_RATE, "single", "single-event requests"),
        (E2E_BATCH_RATE, "batch", "batches"),
    ):
        load = _e2e_load(stages, rate, mode)
        p99 = _get(load or {}, "latency_to_commit", "p99_ms")
        ok = p99 is not None and p99 < E2E_P99_MAX_MS and not (load or {}).get("saturated")
        out.append({
            "target": f"e2e p99 < {E2E_P99_MAX_MS:.0f} ms at {rate:,} events/s ({label})",
            "measured": p99, "unit": "ms", "status": status(p99, ok),
            "bounded_by": _e2e_bound(stages, load, mode),
        })  # fmt: skip
    return out


# -- JSON ------------------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """NaN and infinity are not JSON: null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def build(machine: dict[str, Any], run: dict[str, Any], stages: dict[str, Any]) -> dict[str, Any]:
    ratio_rows = ratios(stages)
    complete = {name: stages.get(name, {"status": "not run"}) for name in STAGES}
    complete.update({name: stages[name] for name in OPTIONAL_STAGES if name in stages})
    return _clean({
        "machine": machine,
        "run": run,
        "ratios": ratio_rows,
        "targets": targets(stages, ratio_rows),
        "stages": complete,
    })  # fmt: skip


# -- Markdown ----------------------------------------------------------------------------------------


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value:.0%}"


def markdown(data: dict[str, Any]) -> str:
    st = data["stages"]
    lines = ["# Corridor bench results", "", *summary_lines(data, heading="##")]
    lines += ["", "Load on the machine as each stage began (1-minute load average; the machine has "
              f"{data['machine']['cores']} cores):", "", "| stage | seconds | load average before |",
              "|---|---:|---|"]  # fmt: skip
    for name in STAGES:
        stage = st.get(name, {})
        if "seconds" in stage:
            lines.append(
                f"| {name} | {stage['seconds']:.0f} | {_n((stage.get('load_average_before') or [None])[0], 2)} |"
            )
    lines += [
        "",
        "Codec ratios are the median of the per-repetition ratios (codec and fastavro are timed back to back "
        "in each repetition); the other ratios divide the medians of their stages.",
        "",
        "## Stages",
        "",
    ]
    lines += _stage_sections(st)
    if "partner_feed" in st:
        lines += _partner_feed_section(st["partner_feed"])
    return "\n".join(lines) + "\n"


def _partner_feed_section(s: dict[str, Any]) -> list[str]:
    out = ["### Partner feed: gateway request → the counterparty's partner topic (the running stack)", ""]
    failed = _failed("partner_feed", s)
    if failed:
        return out + failed
    out += [
        "| offered/s | sent | received | gateway ack p50 / p99 ms | to partner topic p50 / p99 / max ms |",
        "|---:|---:|---:|---|---|",
    ]
    for load in s["loads"]:
        ack, feed = load["gateway_ack"], load["to_partner_topic"]
        out.append(
            f"| {load['offered_per_s']} | {load['sent']} | {load['received']} | "
            f"{ack['p50_ms']:.0f} / {ack['p99_ms']:.0f} | "
            f"{feed['p50_ms']:.0f} / {feed['p99_ms']:.0f} / {feed['max_ms']:.0f} |"
        )
    return [*out, ""]


#: The README's copy of the last full run's summary sits between these lines (``sync_readme``).
README_START = "<!-- bench summary: written by corridor bench, do not edit -->"
README_END = "<!-- end of bench summary -->"


def sync_readme(readme: Path, data: dict[str, Any]) -> bool:
    """Put the run's summary (machine, targets, ratios) between the README's markers; False when the
    README has no markers (it is left alone)."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    body = "\n".join(summary_lines(data, heading="####"))
    readme.write_text(text[: start + len(README_START)] + "\n" + body + "\n" + text[end:], encoding="utf-8")
    return True


def summary_lines(data: dict[str, Any], *, heading: str) -> list[str]:
    """The run and the machine, the targets, and Corridor's figures beside their anchors."""
    m, run = data["machine"], data["run"]
    lines = [
        f"`corridor bench{' --quick' if run['mode'] == 'quick' else ''}` — run `{run['run_id']}`, "
        f"{m['date']}, commit `{m.get('git_commit') or '?'}`, {run['seconds']:.0f} s. "
        "How each figure is measured: `docs/adr/0007-benchmarks.md`.",
        "",
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['ram_gib']} GiB RAM; Python {m['python']}; "
        f"Kafka {m.get('kafka_version')} ({m.get('brokers', '?')} broker, KRaft) on the same machine, with "
        "PostgreSQL and the schema registry. Load average (1, 5, 15 min) before the run "
        f"{run['load_average_before']}, after {run['load_average_after']} (the bench's own processes keep "
        "about 2 busy); ratios compare figures taken minutes apart under the same load.",
        "",
        f"{heading} Targets",
        "",
        "| target | measured | status |",
        "|---|---:|---|",
    ]
    for t in data["targets"]:
        value = t["measured"]
        digits = {"ms": 1, "ms CPU": 3}.get(t["unit"], 0)
        shown = _pct(value) if t["unit"] == "ratio" else f"{_n(value, digits)} {t['unit']}"
        lines.append(f"| {t['target']} | {shown if value is not None else '—'} | **{t['status']}** |")
    lines += _bounded_by_lines(data["targets"])
    lines += [
        "",
        f"{heading} Corridor beside its anchors (same run)",
        "",
        "| figure | /s | anchor | /s | ratio |",
        "|---|---:|---|---:|---:|",
    ]
    for row in data["ratios"].values():
        lines.append(
            f"| {row['corridor_figure']} | {_n(row['corridor'])} | {row['anchor_figure']} | {_n(row['anchor'])} "
            f"| {_pct(row['ratio'])} |"
        )
    return lines


def _bounded_by_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Under the targets: for each missed one, the hot frames of the profile of the process that did the
    work (``corridor.bench.hot``: each frame's share of the busy time, libraries it calls included)."""
    missed = [t for t in rows if t["status"] == "missed"]
    if not missed:
        return []
    lines = [
        "",
        "What bounds each missed target (hot frames of a profiled pass after the measured ones):",
        "",
    ]
    for t in missed:
        bound = t.get("bounded_by") or {}
        frames = ", ".join(f"`{f['frame']}` {f['share']:.0%}" for f in bound.get("frames", []))
        busiest = bound.get("busiest")
        where = f"{busiest['process']} at {busiest['cpu_share']:.0%} of a core; " if busiest else ""
        if frames:
            lines.append(f"- {t['target']}: {where}{frames} ({bound['source']})")
        else:
            lines.append(f"- {t['target']}: {where}not profiled in this run")
    return lines


def _failed(name: str, s: dict[str, Any]) -> list[str] | None:
    if "error" in s:
        return [f"**{name}: failed** — `{s['error']}`", ""]
    if s.get("status") == "not run":
        return [f"{name}: not run", ""]
    return None


def _stage_sections(st: dict[str, Any]) -> list[str]:
    out: list[str] = []
    s = st["kafka_tools"]
    out += ["### 1. Kafka ProducerPerformance / ConsumerPerformance (the broker's ceiling)", ""]
    out += _failed("kafka_tools", s) or [
        f"{_n(s['records'])} records of {s['record_size_bytes']} B (median wire size of our events; sizes "
        f"{min(s['event_sizes_bytes'])}–{max(s['event_sizes_bytes'])} B), `{s['settings']}`.",
        "",
        "| tool | records/s (median) | MB/s | p50 / p99 / p99.9 ms | reps |",
        "|---|---:|---:|---|---|",
        f"| ProducerPerformance | {_n(s['producer']['records_per_s'])} | {s['producer']['mb_per_s']} | "
        f"{s['producer']['p50_ms']:.0f} / {s['producer']['p99_ms']:.0f} / {s['producer']['p99_9_ms']:.0f} | "
        f"{', '.join(_n(r) for r in s['producer']['reps'])} |",
        f"| ConsumerPerformance (fetch rate) | {_n(s['consumer']['records_per_s'])} | {s['consumer']['mb_per_s']} "
        f"| — | {', '.join(_n(r) for r in s['consumer']['reps'])} |",
        "",
    ]
    s = st["raw_kafka"]
    out += ["### 2. Raw aiokafka (same records, Corridor's producer settings)", ""]
    out += _failed("raw_kafka", s) or [
        "| | events/s (median) | reps | ack latency p50 / p99 / p99.9 ms |",
        "|---|---:|---|---|",
        f"| produce | {_n(s['producer']['events_per_s'])} | {', '.join(_n(r) for r in s['producer']['reps'])} | "
        f"{_lat(s['producer']['ack_latency'])} |",
        f"| consume | {_n(s['consumer']['events_per_s'])} | {', '.join(_n(r) for r in s['consumer']['reps'])} | — |",
        "",
    ]
    s = st["produce"]
    out += ["### 3. Corridor produce path", ""]
    out += _failed("produce", s) or [
        f"{s['path']}: **{_n(s['producer']['events_per_s'])} events/s** (reps "
        f"{', '.join(_n(r) for r in s['producer']['reps'])}), ack latency under full load "
        f"{_lat(s['producer']['ack_latency'])} ms.",
        "",
    ]
    s = st["codec"]
    out += ["### 4. Codec vs raw fastavro", ""]
    out += _failed("codec", s) or [
        f"{_n(s['records'])} records, {s['mean_wire_bytes']} B mean.",
        "",
        "| operation | records/s (median) |",
        "|---|---:|",
        *(
            f"| {label} | {_n(s[key]['events_per_s'])} |"
            for key, label in (
                ("fastavro_encode", "fastavro schemaless_writer (dict → bytes)"),
                ("codec_encode", "Codec.encode (model → to_avro → wire bytes)"),
                ("codec_encode_record", "Codec.encode_record (dict → wire bytes)"),
                ("fastavro_decode", "fastavro schemaless_reader (bytes → dict)"),
                ("codec_decode_record", "Codec.decode_record (wire bytes → dict)"),
                ("codec_decode_event", "Codec.decode_event (wire bytes → validated model)"),
            )
        ),
        "",
    ]
    s = st["ledger"]
    out += ["### 5. Ledger ingest (PostgreSQL, one transaction per batch, commit after)", ""]
    out += _failed("ledger", s) or [
        f"{_n(s['events'])} events of whole trades: **{_n(s['events_per_s'])} events/s** (reps "
        f"{', '.join(_n(r) for r in s['reps'])}); batches per run "
        f"{', '.join(str(r['batches']) for r in s['runs'])}; every event stored exactly once.",
        "",
    ]
    s = st["gateway"]
    out += ["### 6. Gateway ingest (separate process)", ""]
    if not (failed := _failed("gateway", s)):
        out += [
            "| requests | events/s (median) | requests/s | request p50 / p99 ms | gateway CPU ms/event | "
            "events per gateway CPU-second | load generator CPU (share of a core) | all 201 |",
            "|---|---:|---:|---|---:|---:|---:|---|",
        ]
        for mode, label in (
            ("single", f"single events, {s['concurrency']['single']} in flight"),
            ("batch_100", f"batches of 100, {s['concurrency']['batch']} in flight"),
            ("batch_500", f"batches of 500, {s['concurrency']['batch']} in flight"),
        ):
            r = s.get(mode)
            if r:
                out.append(
                    f"| {label} | {_n(r['events_per_s'])} | {_n(r['requests_per_s'])} | "
                    f"{r['request_latency']['p50_ms']:.1f} / {r['request_latency']['p99_ms']:.1f} | "
                    f"{r['gateway_cpu_ms_per_event']:.2f} | {_n(r['events_per_gateway_cpu_s'])} | "
                    f"{_n(r.get('load_generator_cpu_share'), 2)} | "
                    f"{'yes' if r['all_accepted'] else 'no: ' + json.dumps(r['statuses'])} |"
                )
        out.append("")
    else:
        out += failed
    s = st["e2e"]
    out += ["### 7. End-to-end latency, gateway request → ledger commit (open loop)", ""]
    if not (failed := _failed("e2e", s)):
        out += [
            "| offered events/s | requests | committed | achieved events/s | p50 / p99 / p99.9 ms to commit | "
            "p50 / p99 ms to ingested_at | HTTP p50 / p99 ms | gateway / ledger CPU (share of a core) | |",
            "|---|---|---:|---:|---|---|---|---|---|",
        ]
        for load in s["loads"]:
            c, i, h = load["latency_to_commit"], load["latency_to_ingested_at"], load["request_latency"]
            out.append(
                f"| {_n(load['offered_events_per_s'])} | {load['mode']} ({_n(load['requests'])}) | "
                f"{_n(load['events_committed'])} / {_n(load['events_offered'])} | "
                f"{_n(load['achieved_events_per_s'])} | {_lat(c)} | {_n(i['p50_ms'], 1)} / {_n(i['p99_ms'], 1)} | "
                f"{_n(h['p50_ms'], 1)} / {_n(h['p99_ms'], 1)} | {_n(load.get('gateway_cpu_share'), 2)} / "
                f"{_n(load.get('ledger_cpu_share'), 2)} | {'saturated' if load['saturated'] else ''} |"
            )
        out += ["", s["method"] + ".", ""]
    else:
        out += failed
    s = st["scaling"]
    out += ["### 8. How cost grows (Corridor produce path)", ""]
    if not (failed := _failed("scaling", s)):
        out += [
            "| variant | events/s | MB/s | wire B/event | loaded ack p50 / p99 ms | unloaded publish p50 / p99 ms |",
            "|---|---:|---:|---:|---|---|",
        ]
        for group, label in (
            ("event_size_lines", "order lines: {}"),
            ("max_batch_size_bytes", "max_batch_size {}"),
            ("partitions", "partitions: {}"),
        ):
            for key, r in s[group].items():
                shown = f"{int(key) // 1024} KiB" if group == "max_batch_size_bytes" else key
                out.append(
                    f"| {label.format(shown)} | {_n(r['events_per_s'])} | {r['mb_per_s']:.2f} | "
                    f"{_n(r['wire_bytes_per_event'])} | {_n(r['ack_latency_loaded']['p50_ms'], 1)} / "
                    f"{_n(r['ack_latency_loaded']['p99_ms'], 1)} | {_n(r['publish_latency_unloaded']['p50_ms'], 1)} "
                    f"/ {_n(r['publish_latency_unloaded']['p99_ms'], 1)} |"
                )
        out.append("")
    else:
        out += failed
    out += _processes_section(st.get("processes", {"status": "not run"}))
    return out


def _processes_section(s: dict[str, Any]) -> list[str]:
    out = ["### 9. 1, 2 and 4 processes of the gateway and of the ledger", ""]
    failed = _failed("processes", s)
    if failed:
        return out + failed
    out += [
        "| service | processes | mode | events/s | CPU ms/event (all processes) | CPU (share of a core) |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for row in s["gateway"]:
        for mode in ("single", "batch_100"):
            r = row.get(mode)
            if r:
                out.append(
                    f"| gateway | {row['processes']} | {mode} | {_n(r['events_per_s'])} | "
                    f"{r['cpu_ms_per_event']:.3f} | {_n(r['cpu_share'], 2)} |"
                )
    for row in s["ledger"]:
        out.append(
            f"| ledger | {row['processes']} | events per process {row['events_per_process']} | "
            f"{_n(row['events_per_s'])} | {row['cpu_ms_per_event']:.3f} | — |"
        )
    return [*out, "", s["method"] + ".", ""]


def _lat(summary: dict[str, Any]) -> str:
    return (
        f"{_n(summary.get('p50_ms'), 1)} / {_n(summary.get('p99_ms'), 1)} / {_n(summary.get('p99_9_ms'), 1)}"
    )


# -- PNG -----------------------------------------------------------------------------------------------


def chart(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    st = data["stages"]
    fig, axes = plt.subplots(
        1, 3, figsize=(19, 6.5), gridspec_kw={"width_ratios": [1.5, 1.1, 1.1]}, layout="constrained"
    )

    # 1. throughputs, Corridor beside its anchors
    bars = [
        ("Kafka ProducerPerformance", _get(st, "kafka_tools", "producer", "records_per_s"), "anchor"),
        ("raw aiokafka produce", _get(st, "raw_kafka", "producer", "events_per_s"), "anchor"),
        ("Corridor produce path", _get(st, "produce", "producer", "events_per_s"), "corridor"),
        ("fastavro encode", _get(st, "codec", "fastavro_encode", "events_per_s"), "anchor"),
        ("Codec.encode", _get(st, "codec", "codec_encode", "events_per_s"), "corridor"),
        ("fastavro decode", _get(st, "codec", "fastavro_decode", "events_per_s"), "anchor"),
        ("Codec.decode_record", _get(st, "codec", "codec_decode_record", "events_per_s"), "corridor"),
        ("Kafka ConsumerPerformance", _get(st, "kafka_tools", "consumer", "records_per_s"), "anchor"),
        ("raw aiokafka consume", _get(st, "raw_kafka", "consumer", "events_per_s"), "anchor"),
        ("ledger ingest", _get(st, "ledger", "events_per_s"), "corridor"),
        ("gateway single", _get(st, "gateway", "single", "events_per_s"), "corridor"),
        ("gateway batch 100", _get(st, "gateway", "batch_100", "events_per_s"), "corridor"),
        ("gateway batch 500", _get(st, "gateway", "batch_500", "events_per_s"), "corridor"),
    ]
    ax = axes[0]
    labels = [b[0] for b in bars][::-1]
    values = [float(b[1] or 0) for b in bars][::-1]
    colors = ["#9aa5b1" if b[2] == "anchor" else "#1f6feb" for b in bars][::-1]
    ax.barh(labels, [v if v > 0 else 1.0 for v in values], color=colors)  # 1.0 is left of the axis
    ax.set_xscale("log")
    ax.set_xlim(30, max([*values, LEDGER_MIN]) * 4)
    ax.set_xlabel("events (records) per second, log scale")
    ax.set_title("Throughput: Corridor (blue) beside its anchors (grey)")
    for y, v in enumerate(values):
        ax.text(v if v else 35, y, f" {v:,.0f}" if v else " not measured", va="center", fontsize=8)
    for x, label in ((LEDGER_MIN, "ledger target"), (GATEWAY_BATCH_MIN, "gateway target")):
        ax.axvline(x, color="#d1242f", linestyle=":", linewidth=1)
        ax.text(x, 0.99, f"{label} ", color="#d1242f", fontsize=7, rotation=90, va="top", ha="right",
                transform=ax.get_xaxis_transform())  # fmt: skip

    # 2. e2e latency percentiles
    ax = axes[1]
    loads = _get(st, "e2e", "loads") or []
    if loads:
        names = [f"{load['offered_events_per_s']:,}/s\n{load['mode']}" for load in loads]
        width = 0.27
        for k, (key, color) in enumerate(
            (("p50_ms", "#54aeff"), ("p99_ms", "#0969da"), ("p99_9_ms", "#0a3069"))
        ):
            vals = [_get(load, "latency_to_commit", key) or math.nan for load in loads]
            ax.bar([i + (k - 1) * width for i in range(len(loads))], vals, width, label=key[:-3].replace("_", "."),
                   color=color)  # fmt: skip
        ax.set_xticks(range(len(loads)), names, fontsize=8)
        ax.set_yscale("log")
        tops = [_get(load, "latency_to_commit", "p99_9_ms") for load in loads]
        ax.set_ylim(1, max([t for t in tops if t] + [E2E_P99_MAX_MS * 4]) * 3)
        ax.axhline(E2E_P99_MAX_MS, color="#d1242f", linestyle=":", linewidth=1)
        ax.text(-0.4, E2E_P99_MAX_MS, "p99 target 50 ms", color="#d1242f", fontsize=7, va="bottom")
        for i, (load, top) in enumerate(zip(loads, tops, strict=True)):
            if load.get("saturated"):
                label = "saturated" if top else "saturated,\nnone committed"
                ax.text(i, (top or 2.0) * 1.3, label, ha="center", fontsize=7, color="#d1242f")
        ax.legend(fontsize=8)
    ax.set_ylabel("ms, gateway request → ledger commit (log)")
    ax.set_title("End-to-end latency at offered loads (open loop)")

    # 3. scaling
    ax = axes[2]
    groups = [
        ("event_size_lines", "lines {}"),
        ("max_batch_size_bytes", "batch {}"),
        ("partitions", "{} partitions"),
    ]
    names, values, colors = [], [], []
    palette = ["#1f6feb", "#8250df", "#1a7f37"]
    for (group, label), color in zip(groups, palette, strict=True):
        for key, r in (_get(st, "scaling", group) or {}).items():
            shown = f"{int(key) // 1024}K" if group == "max_batch_size_bytes" else key
            names.append(label.format(shown))
            values.append(r.get("events_per_s") or 0)
            colors.append(color)
    if names:
        ax.bar(range(len(names)), values, color=colors)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("events/s (Corridor produce path)")
    ax.set_title("How cost grows: event size, batch size, partitions")

    m, run = data["machine"], data["run"]
    fig.suptitle(
        f"Corridor bench {run['mode']} run {run['run_id']} — {m['cpu_model']}, {m['cores']} cores, "
        f"Kafka {m.get('kafka_version')}, load avg before/after {run['load_average_before'][:1]} / "
        f"{run['load_average_after'][:1]}",
        fontsize=10,
    )
    with warnings.catch_warnings():  # a run of a few stages leaves panels empty: layout warnings only
        warnings.simplefilter("ignore", UserWarning)
        fig.savefig(path, dpi=110)
    plt.close(fig)


def write(out: Path, machine: dict[str, Any], run: dict[str, Any], stages: dict[str, Any]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = build(machine, run, stages)
    json_path, md_path, png_path = out / "results.json", out / "results.md", out / "results.png"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(markdown(data))
    chart(data, png_path)
    return [json_path, md_path, png_path]


def rerender(results_json: Path) -> list[Path]:
    """Write results.md and results.png again from a results.json (after a change to the report only)."""
    data = json.loads(results_json.read_text())
    return write(results_json.parent, data["machine"], data["run"], data["stages"])


if __name__ == "__main__":
    import sys

    source = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results.json")
    for done in rerender(source):
        print(done)
    readme = Path(__file__).resolve().parents[2] / "README.md"
    if source.resolve().parent == readme.parent / "bench" and sync_readme(
        readme, json.loads(source.read_text())
    ):
        print(readme)
