"""The bench's targets (issue 23 item 4) and what bounds a missed one: hot frames from a profile."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corridor.bench import report
from corridor.bench.hot import hot_frames

SERVICES = Path(report.__file__).resolve().parents[1]
STDLIB = "/usr/lib/python3.11"
SITE = "/venv/lib/python3.11/site-packages"


@dataclass
class Frame:
    """The attributes of a pyinstrument frame that ``hot_frames`` reads."""

    function: str
    file_path: str | None
    time: float
    children: list[Frame] = field(default_factory=list)
    line_no: int = 1


def test_samples_go_to_their_innermost_corridor_frame_and_idle_waits_are_left_out() -> None:
    encode = Frame("encode_body", str(SERVICES / "core/codec.py"), 3.0, [
        Frame("schemaless_writer", f"{SITE}/fastavro/_write.py", 2.5),
    ], line_no=106)  # fmt: skip
    claim = Frame("claim", str(SERVICES / "gateway/store.py"), 1.0, [
        Frame("fetch", f"{SITE}/asyncpg/pool.py", 0.9),
    ], line_no=135)  # fmt: skip
    handler = Frame("post_event", str(SERVICES / "gateway/handlers.py"), 4.5, [encode, claim], line_no=309)
    root = Frame("run", f"{STDLIB}/asyncio/runners.py", 11.0, [
        Frame("select", f"{STDLIB}/selectors.py", 5.0, [Frame("poll", None, 5.0)]),
        Frame("send", f"{SITE}/uvicorn/protocols/http/httptools_impl.py", 0.5),
        handler,
    ])  # fmt: skip
    found = hot_frames(root)
    shares = {f["frame"]: f["share"] for f in found["frames"]}
    assert found["busy_s"] == 6.0  # 11 s minus 5 s waiting in select
    assert shares == {
        "encode_body (services/core/codec.py:106)": 0.5,  # fastavro's time charged to it
        "claim (services/gateway/store.py:135)": round(1 / 6, 3),
        "library asyncio": round(1 / 6, 3),
        "library uvicorn": round(0.5 / 6, 3),
        "post_event (services/gateway/handlers.py:309)": round(0.5 / 6, 3),
    }


def _stages(single_cpu: float, batch_cpu: float) -> dict[str, Any]:
    hot = {"busy_s": 2.0, "frames": [{"frame": "parse_event (services/core/domain/validation.py:53)",
                                      "share": 0.4}]}  # fmt: skip
    gateway = {
        mode: {"events_per_s": 1000.0, "gateway_cpu_ms_per_event": cpu, "hot_frames": hot}
        for mode, cpu in (("single", single_cpu), ("batch_100", batch_cpu), ("batch_500", batch_cpu * 2))
    }
    load = {
        "offered_events_per_s": 5000, "mode": "batch", "saturated": True,
        "latency_to_commit": {"p99_ms": 900.0}, "gateway_cpu_share": 0.3, "ledger_cpu_share": 0.95,
    }  # fmt: skip
    return {
        "gateway": gateway,
        "ledger": {"events_per_s": 4000.0, "hot_frames": hot},
        "e2e": {"loads": [load]},
    }


def test_each_per_core_figure_stands_beside_its_target() -> None:
    stages = _stages(single_cpu=0.4, batch_cpu=0.3)
    rows = {t["target"]: t for t in report.targets(stages, report.ratios(stages))}
    single = rows["gateway CPU ≤ 0.5 ms per single-event request"]
    assert (single["measured"], single["status"]) == (0.4, "met")
    batch = rows["gateway CPU ≤ 0.12 ms per batched event (best of 100, 500)"]
    assert (batch["measured"], batch["status"]) == (0.3, "missed")
    assert batch["bounded_by"]["source"] == "gateway process, stage 6 (batch_100)"
    assert rows["ledger ≥ 10,000 events/s per process"]["status"] == "missed"
    e2e = rows["e2e p99 < 50 ms at 5,000 events/s (batches)"]
    assert e2e["status"] == "missed"
    assert e2e["bounded_by"]["busiest"] == {"process": "ledger", "cpu_share": 0.95}
    assert e2e["bounded_by"]["source"] == "ledger, stage 5"
    assert rows["e2e p99 < 50 ms at 1,000 events/s (single-event requests)"]["status"] == "not run"


def test_the_summary_says_what_bounds_each_missed_target() -> None:
    stages = _stages(single_cpu=0.9, batch_cpu=0.3)
    machine = {"cores": 2, "cpu_model": "x", "ram_gib": 1, "python": "3.11", "date": "d"}
    run = {
        "mode": "quick",
        "run_id": "r",
        "seconds": 1.0,
        "load_average_before": [],
        "load_average_after": [],
    }
    text = "\n".join(report.summary_lines(report.build(machine, run, stages), heading="##"))
    assert "What bounds each missed target" in text
    line = next(x for x in text.splitlines() if x.startswith("- gateway CPU ≤ 0.5 ms"))
    assert "`parse_event (services/core/domain/validation.py:53)` 40%" in line
    assert "gateway process, stage 6 (single)" in line
    e2e = next(x for x in text.splitlines() if x.startswith("- e2e p99 < 50 ms at 5,000"))
    assert "ledger at 95% of a core" in e2e
