"""Running the bench: every stage in one run on the local stack, then the report (the command is
``corridor bench``, in ``corridor.cli.bench``)."""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from corridor.bench.common import (
    BenchContext,
    load_average,
)
from corridor.core.settings import PROJECT_ROOT


async def run_stages(ctx: BenchContext, stages: list[str]) -> dict[str, Any]:
    from corridor.bench import (
        codec_bench,
        e2e,
        gateway_ingest,
        kafka_tools,
        ledger_ingest,
        partner_feed,
        processes,
        produce,
        raw_kafka,
        scaling,
    )

    modules = {
        "kafka_tools": kafka_tools,
        "raw_kafka": raw_kafka,
        "produce": produce,
        "codec": codec_bench,
        "ledger": ledger_ingest,
        "gateway": gateway_ingest,
        "e2e": e2e,
        "scaling": scaling,
        "processes": processes,
        "partner_feed": partner_feed,
    }
    results: dict[str, Any] = {}
    try:
        for name in stages:
            began = time.monotonic()
            load = load_average()
            try:
                if name in ctx.profile:
                    results[name] = await _profiled(ctx, name, modules[name].run)
                else:
                    results[name] = await modules[name].run(ctx)
            except Exception as exc:
                ctx.progress(f"stage {name} FAILED: {type(exc).__name__}: {exc}")
                results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
            results[name]["seconds"] = round(time.monotonic() - began, 1)
            results[name]["load_average_before"] = load
    finally:
        ctx.progress("cleaning up bench topics, schemas and consumer groups…")
        await ctx.cleanup()
    return results


async def _profiled(ctx: BenchContext, name: str, run: Any) -> dict[str, Any]:
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    profiler = Profiler(interval=0.001, async_mode="enabled")
    profiler.start()
    try:
        return dict(await run(ctx))
    finally:
        profiler.stop()
        folder = ctx.out / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.txt").write_text(profiler.output_text(unicode=True, color=False))
        (folder / f"{name}.html").write_text(profiler.output_html())
        flat = ConsoleRenderer(flat=True, flat_time="self", show_all=True)
        (folder / f"{name}-flat.txt").write_text(profiler.output(flat))
        ctx.progress(f"profile of stage {name}: {folder / name}.txt")


def output_dir(out: Path | None, *, quick: bool, partial: bool) -> Path:
    """Where a run writes: ``--out`` if given (a relative path is the current directory's); else the
    committed results (``bench/``) for a full run of every stage, and a fresh temporary directory for a
    smoke or partial run, so neither rewrites the committed results."""
    if out is not None:
        return out
    if quick or partial:
        return Path(tempfile.mkdtemp(prefix="corridor-bench-"))
    return PROJECT_ROOT / "bench"


def updates_readme(out: Path, *, quick: bool, partial: bool) -> bool:
    """Only a full run of every stage into the repository's ``bench/`` rewrites the README summary."""
    return not quick and not partial and out.resolve() == (PROJECT_ROOT / "bench").resolve()
