"""``corridor bench``: measure Corridor against its anchors on the local stack (``corridor.bench``)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

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
from corridor.bench.run import output_dir, run_stages, updates_readme
from corridor.cli.output import JsonCommand


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
    results = asyncio.run(run_stages(ctx, chosen))
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
