"""``corridor bench [--quick] [--out bench/]``: every stage in one run on the local stack, then the report."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import click

from corridor.bench.common import (
    OPTIONAL_STAGES,
    STAGES,
    BenchContext,
    Scale,
    load_average,
    machine_info,
    quiet_logs,
)
from corridor.cli_output import JsonCommand
from corridor.core.settings import PROJECT_ROOT


async def _run_stages(ctx: BenchContext, stages: list[str]) -> dict[str, Any]:
    from corridor.bench import (
        codec_bench,
        e2e,
        gateway_ingest,
        kafka_tools,
        ledger_ingest,
        partner_feed,
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


@click.command("bench", cls=JsonCommand)
@click.option("--quick", is_flag=True, help="A small smoke run of every stage (under 2 minutes).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where results.json, results.md and results.png go (default: the repository's bench/ for a "
    "full run of every stage, a new temporary directory for --quick or --stage runs; a relative path "
    "is the current directory's).",
)
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice((*STAGES, *OPTIONAL_STAGES)),
    help="Run only this stage (repeatable); the report marks the others as not run. partner_feed "
    "(gateway → partner topic through the running stack's ledger and relay) runs only when named.",
)
@click.option(
    "--profile",
    multiple=True,
    type=click.Choice(STAGES),
    help="Profile this stage with pyinstrument (and the gateway/ledger processes it starts) "
    "into <out>/profiles/.",
)
def bench(quick: bool, out: Path | None, stages: tuple[str, ...], profile: tuple[str, ...]) -> None:
    """Measure Corridor against its anchors (Kafka's tools, raw aiokafka, raw fastavro) on the local stack.

    Stages: Kafka ProducerPerformance/ConsumerPerformance, raw aiokafka, Corridor's produce path, the
    codec, ledger ingest, gateway ingest, end-to-end latency gateway → ledger, and how cost grows with
    event size, batch size and partitions. Each stage uses topics of its own, deleted afterwards.
    """
    from corridor.bench import report
    from corridor.core.settings import PROJECT_ROOT
    from corridor.stack.api import up
    from corridor.stack.config import StackConfig
    from corridor.stack.kafka import kafka_version

    out = out if out is not None else PROJECT_ROOT / "bench"
    quiet_logs()
    out = output_dir(out, quick=quick, partial=bool(stages))
    load_before = load_average()
    config = StackConfig.from_settings()
    status = up(config)
    if not status.database_url:
        raise click.ClickException("the stack has no PostgreSQL URL; `corridor stack status` says why")
    java = shutil.which("java")
    if java is None:
        raise click.ClickException("java is not on PATH (Kafka's performance tools need it)")
    out.mkdir(parents=True, exist_ok=True)
    # the services' logs of the previous run (tens of MB of JSON lines): this run writes its own
    shutil.rmtree(out / "logs", ignore_errors=True)
    ctx = BenchContext(
        bootstrap_servers=status.bootstrap_servers,
        registry_url=status.schema_registry_url,
        database_url=status.database_url,
        libs_dir=config.libs_dir,
        java=java,
        kafka_version=kafka_version(config),
        out=out,
        quick=quick,
        scale=Scale.quick() if quick else Scale.full(),
        profile=set(profile),
    )
    chosen = [s for s in STAGES if not stages or s in stages] + [s for s in OPTIONAL_STAGES if s in stages]
    ctx.progress(f"bench run {ctx.run_id} ({'quick' if quick else 'full'}): stages {', '.join(chosen)}")
    began = time.monotonic()
    results = asyncio.run(_run_stages(ctx, chosen))
    machine = machine_info(ctx.kafka_version)
    machine["brokers"] = len(status.brokers)
    run = {
        "run_id": ctx.run_id,
        "mode": "quick" if quick else "full",
        "stages_run": chosen,
        "seconds": round(time.monotonic() - began, 1),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }
    paths = report.write(out, machine, run, results)
    readme = PROJECT_ROOT / "README.md"
    if updates_readme(out, quick=quick, partial=bool(stages)):
        # only a full run into the repository's bench/ is the one the README shows
        if report.sync_readme(readme, json.loads(paths[0].read_text())):
            paths.append(readme)
    for path in paths:
        click.echo(str(path))
    failed = [name for name, r in results.items() if "error" in r]
    if failed:
        raise click.ClickException(f"stage(s) {', '.join(failed)} failed; see {paths[0]}")
