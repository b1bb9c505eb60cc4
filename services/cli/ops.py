"""``corridor tail | dlq | trace | lag | backup | rebuild | generation``: the operations commands
services/cli/__init__.py).

Servers come from the ``CORRIDOR_*`` settings (``CORRIDOR_BOOTSTRAP_SERVERS``,
``CORRIDOR_SCHEMA_REGISTRY_URL``, ``CORRIDOR_DATABASE_URL`` — else the local stack's embedded
PostgreSQL). Progress goes to stderr; results to stdout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from corridor.cli.database import database_url
from corridor.cli.output import JsonCommand, JsonGroup
from corridor.core.settings import get_settings
from corridor.core.topics import ACCEPTED
from corridor.ledger.topics import DLQ_TOPIC

T = TypeVar("T")


#: How long ``tail`` waits for a record before it stops, unless told ``--follow``.
DEFAULT_IDLE_TIMEOUT_S = 30.0


def _say(message: str) -> None:
    click.echo(message, err=True)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    # stdout is for results: library log lines (structlog's default goes to stdout) go to stderr, warnings
    # and above; aiokafka logs routine coordinator and metadata hiccups at ERROR: the commands report
    # real failures themselves
    from corridor.core.logging import configure_logging

    configure_logging("WARNING", "console", service="ops")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        raise click.Abort() from None
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except click.ClickException:
        raise
    except Exception as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


def _progress(enabled: bool = True) -> Any:
    from corridor.ops.progress import Progress

    return lambda label: Progress(label, enabled=enabled)


# -- tail -------------------------------------------------------------------------------------------------


@click.command("tail", cls=JsonCommand)
@click.argument("topic")
@click.option("--type", "event_type", help="Only this event type (OrderPlaced or its full name).")
@click.option("--partner", help="Only events this party id sends or is named in.")
@click.option("--trade", help="Only this trade id (the record key).")
@click.option(
    "--from-beginning", is_flag=True, help="Start at the beginning of the topic (default: the end)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: headers and decoded event.")
@click.option("--max", "max_records", type=click.IntRange(min=1), help="Stop after N records shown.")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_IDLE_TIMEOUT_S,
    show_default=True,
    help="Stop when no record arrived for this many seconds.",
)
@click.option("--follow", is_flag=True, help="Wait for new records for ever (no --idle-timeout).")
def tail(
    topic: str,
    event_type: str | None,
    partner: str | None,
    trade: str | None,
    from_beginning: bool,
    as_json: bool,
    max_records: int | None,
    idle_timeout: float,
    follow: bool,
) -> None:
    """Show TOPIC's records, decoded through the schema registry, as they arrive; stops after
    --idle-timeout seconds without a record (--follow: never) or after --max records."""
    from corridor.ops.tail import TailFilter, check_event_type
    from corridor.ops.tail import tail as run_tail

    settings = get_settings()
    if event_type is not None:
        try:
            event_type = check_event_type(event_type, topic)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--type") from None

    def emit(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    shown = _run(
        run_tail(
            topic,
            bootstrap_servers=settings.bootstrap_servers,
            registry_url=settings.schema_registry_url,
            filt=TailFilter(event_type, partner, trade),
            from_beginning=from_beginning,
            max_records=max_records,
            idle_timeout_s=None if follow else idle_timeout,
            as_json=as_json,
            emit=emit,
            say=_say,
        )
    )
    _say(f"{shown} record(s) shown")


# -- dlq --------------------------------------------------------------------------------------------------


@click.group("dlq", cls=JsonGroup)
def dlq() -> None:
    """Inspect the dead-letter topic (trade.dlq.v1) and replay dead letters once their cause is fixed."""


def _filter(filters: tuple[str, ...]) -> Any:
    from corridor.ops.dlq import DlqFilter

    try:
        return DlqFilter.parse(filters)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--filter") from None


_FILTER_HELP = (
    "name=value, repeatable (all must hold): error_class, topic (original), type, trade, event, "
    "reason (substring), group, position (partition:offset)."
)


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON document: depth, top reasons, records.")
@click.option("--filter", "filters", multiple=True, help=_FILTER_HELP)
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="Records listed.")
def dlq_list(as_json: bool, filters: tuple[str, ...], limit: int) -> None:
    """Depth per original topic, the most frequent reasons, and the latest dead letters."""
    from corridor.ops import dlq as ops_dlq

    settings = get_settings()
    filt = _filter(filters)

    async def go() -> Any:
        letters = await ops_dlq.read_dead_letters(
            settings.bootstrap_servers, progress=_progress()("reading the dead letters")
        )
        replayed = await ops_dlq.read_replayed(settings.bootstrap_servers)
        return ops_dlq.summarize([m for m in letters if filt.matches(m)], replayed)

    summary = _run(go())
    latest = sorted(summary.records, key=lambda r: r["dead_lettered_at"], reverse=True)[:limit]
    if as_json:
        body = summary.to_json()
        body["records"] = latest
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    click.echo(f"{DLQ_TOPIC}: {summary.total} dead letter(s), {summary.pending} not replayed")
    if not summary.total:
        return
    click.echo("\ndepth by original topic (not replayed / total):")
    for topic, row in summary.depth.items():
        click.echo(f"  {topic:<28} {row['pending']:>6} / {row['total']}")
    click.echo("\ntop reasons:")
    for reason in summary.reasons:
        click.echo(f"  {reason['count']:>6}  {reason['error_class']:<22} {reason['reason'][:110]}")
    click.echo(f"\nlatest {len(latest)}:")
    for r in latest:
        state = "replayed" if r["replayed"] else "pending "
        where = f"{r['original_topic']}/{r['original_partition']}@{r['original_offset']}"
        kind = (r["type"] or "?").rsplit(".", 1)[-1]
        click.echo(
            f"  {r['position']:<9} {state} {r['dead_lettered_at'][:19]}  {kind:<23} {where:<28} "
            f"{r['error_class']}: {r['reason'][:80]}"
        )


@dlq.command("show")
@click.argument("position")
def dlq_show(position: str) -> None:
    """One dead letter (POSITION = partition:offset in trade.dlq.v1): headers, payload, replay state."""
    from corridor.core.codec import Codec
    from corridor.core.registry_client import RegistryClient
    from corridor.ops import dlq as ops_dlq
    from corridor.ops.kafka_io import Decoder, fetch_record

    settings = get_settings()

    async def go() -> Any:
        found = await ops_dlq.show(settings.bootstrap_servers, position)
        if found is None:
            raise LookupError(f"no record at {position} of {DLQ_TOPIC}")
        letter, marker = found
        partition, offset = ops_dlq.parse_position(position)
        record = await fetch_record(settings.bootstrap_servers, DLQ_TOPIC, partition, offset)
        assert record is not None
        async with RegistryClient(settings.schema_registry_url) as registry:
            decoded = await Decoder(Codec(registry, auto_register=False)).decode(record)
        return letter, marker, decoded

    letter, marker, decoded = _run(go())
    body = letter.to_json(marker)
    body["event"] = decoded.payload
    if decoded.error:
        body["decode_error"] = decoded.error
    click.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


@dlq.command("replay")
@click.option("--dry-run", is_flag=True, help="List what would be replayed; produce nothing.")
@click.option("--filter", "filters", multiple=True, help=_FILTER_HELP)
@click.option("--json", "as_json", is_flag=True, help="The outcome as one JSON document.")
def dlq_replay(dry_run: bool, filters: tuple[str, ...], as_json: bool) -> None:
    """Re-produce dead letters (original key, value, headers) to their original topic, each at most once.

    Each replay commits, in one Kafka transaction, the record and a marker in trade.dlq.replays.v1; a
    dead letter with a marker is never replayed again."""
    from corridor.ops import dlq as ops_dlq

    settings = get_settings()
    filt = _filter(filters)
    report = _run(
        ops_dlq.replay(settings.bootstrap_servers, filt, dry_run=dry_run, progress=_progress(), say=_say)
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "dry_run": dry_run,
                    "filter": str(filt),
                    "matched": [m.position for m in report.matched],
                    "already_replayed": [m.position for m in report.already],
                    "replayed": [
                        {
                            "position": r.letter.position,
                            "event_id": r.letter.event_id,
                            "topic": r.topic,
                            "partition": r.partition,
                            "offset": r.offset,
                        }
                        for r in report.replayed
                    ],
                    "skipped": [{"position": m.position, "reason": why} for m, why in report.skipped],
                },
                indent=2,
            )
        )
        return
    verb = "would replay" if dry_run else "replayed"
    for letter in report.matched:
        if dry_run:
            click.echo(
                f"  {letter.position:<9} {letter.original_topic}/{letter.original_partition} "
                f"{(letter.event_type or '?').rsplit('.', 1)[-1]} {letter.event_id} ({letter.error_class})"
            )
    for r in report.replayed:
        click.echo(
            f"  {r.letter.position:<9} → {r.topic}/{r.partition}@{r.offset} "
            f"{(r.letter.event_type or '?').rsplit('.', 1)[-1]} {r.letter.event_id}"
        )
    for letter, why in report.skipped:
        click.echo(f"  {letter.position:<9} skipped: {why}")
    count = len(report.matched) - len(report.skipped) if dry_run else len(report.replayed)
    click.echo(
        f"{verb} {count} dead letter(s) (filter: {filt}); {len(report.already)} matching were replayed "
        "before and are skipped"
    )


# -- trace ------------------------------------------------------------------------------------------------


@click.command("trace", cls=JsonCommand)
@click.argument("trade_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option("--all-partitions", is_flag=True, help="Scan every partition, not only the trade key's.")
@click.option(
    "--ledger-schema", default="ledger", show_default=True, help="PostgreSQL schema of the ledger's tables."
)
def trace(trade_id: str, as_json: bool, all_partitions: bool, ledger_schema: str) -> None:
    """One trade's events across the topics, with each hop's latency: gateway accept → Kafka → ledger
    commit → partner topics."""
    from corridor.ops.trace import render, trace_trade

    settings = get_settings()
    result = _run(
        trace_trade(
            trade_id,
            bootstrap_servers=settings.bootstrap_servers,
            registry_url=settings.schema_registry_url,
            database_url=database_url(),
            ledger_schema=ledger_schema,
            all_partitions=all_partitions,
            progress=_progress(),
        )
    )
    if not result.events:  # an error, not an empty timeline (and under --json one document: the error)
        notes = "; ".join(result.notes)
        raise click.ClickException(f"no events of trade {trade_id} found" + (f" ({notes})" if notes else ""))
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render(result))


# -- lag --------------------------------------------------------------------------------------------------


@click.command("lag", cls=JsonCommand)
@click.option("--group", default="corridor-ledger", show_default=True, help="Consumer group.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@click.option("--all", "show_all", is_flag=True, help="Also partitions with no lag.")
def lag(group: str, as_json: bool, show_all: bool) -> None:
    """A consumer group's lag per partition: committed offsets against the end of each partition (works
    while the group's members are stopped)."""
    from corridor.ops.lag import group_lag

    settings = get_settings()
    rows = _run(group_lag(settings.bootstrap_servers, group))
    total = sum(r.lag for r in rows)
    if as_json:
        click.echo(json.dumps({"group": group, "total": total, "partitions": [r.to_json() for r in rows]}))
        return
    click.echo(f"group {group}: {total:,} record(s) behind on {len(rows)} partition(s)")
    for r in rows:
        if r.lag or show_all:
            committed = "-" if r.committed is None else str(r.committed)
            click.echo(
                f"  {r.topic:<24} {r.partition:>3}  committed {committed:>10}  end {r.end:>10}  lag {r.lag:,}"
            )


@click.group()
def backup() -> None:
    """Back up the project's PostgreSQL schemas (ledger, partners, registry with its ids …); restore them."""


@backup.command("create")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
def backup_create(archive: Path) -> None:
    """Write every project schema of the stack's database (CORRIDOR_DATABASE_URL) to ARCHIVE (pg_dump)."""
    from corridor.ops.backup import BackupError, create_backup

    try:
        result = _run(create_backup(database_url(), archive))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    names = ", ".join(result.schemas)
    click.echo(f"{result.path}: {len(result.schemas)} schema(s) ({names}), {result.bytes:,} bytes")


@backup.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--database-url", required=True, help="The fresh database to restore into.")
def backup_restore(archive: Path, database_url: str) -> None:
    """Restore ARCHIVE into a fresh database (refused if it already has one of the archive's schemas)."""
    from corridor.ops.backup import BackupError, restore_backup

    try:
        schemas = _run(restore_backup(archive, database_url))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {len(schemas)} schema(s): {', '.join(schemas)}")


# -- rebuild ----------------------------------------------------------------------------------------------


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (e.g. 2026-12-05T04:00:00Z)") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _delays(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in value.split(","))
    except ValueError:
        delays = ()
    if len(delays) != 3 or any(d < 0 for d in delays):
        raise click.BadParameter("three non-negative numbers of seconds, e.g. 1,1,1")
    return delays


@click.command("rebuild", cls=JsonCommand)
@click.option("--schema", "live", default="ledger", show_default=True, help="The ledger's PostgreSQL schema.")
@click.option(
    "--partners-schema", default="partners", show_default=True, help="Where the authority keys are."
)
@click.option(
    "--since",
    callback=_since,
    help="Read the topics from this time on (ISO 8601), not from their beginning: for a ledger that "
    "was started at the end of the topics (--start-from latest).",
)
@click.option(
    "--retry-delays",
    default="1,1,1",
    show_default=True,
    callback=_delays,
    help="Seconds before each retry of an event still waiting for a prerequisite after the whole history.",
)
@click.option(
    "--accepted-topic",
    default=ACCEPTED,
    show_default=True,
    help="The ledger's accepted stream (read only when the live schema is gone).",
)
@click.option(
    "--switch", is_flag=True, help="Swap the rebuild in when it is identical (every ledger process stopped)."
)
@click.option("--timeout", type=click.FloatRange(min=1), default=3600, show_default=True, help="Seconds.")
@click.option("--json", "as_json", is_flag=True, help="The outcome as one JSON document.")
def rebuild(
    live: str,
    partners_schema: str,
    since: Any,
    retry_delays: tuple[float, ...],
    accepted_topic: str,
    switch: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Rebuild the ledger's tables from the trade topics into <schema>_rebuild with the ledger's own
    consumer, compare every trade with the live schema, and (--switch) swap the rebuild in.

    Exit code 0: identical (and switched when asked); 1: differences, listed by trade id (nothing
    switched). Nothing is published or dead-lettered again (docs/adr/0031-ledger-rebuild.md)."""
    from corridor.ops.rebuild import RebuildError
    from corridor.ops.rebuild import rebuild as run_rebuild

    settings = get_settings()
    try:
        result = _run(
            run_rebuild(
                database_url=database_url(),
                bootstrap_servers=settings.bootstrap_servers,
                registry_url=settings.schema_registry_url,
                live=live,
                partners_schema=partners_schema,
                since=since,
                retry_delays_s=retry_delays,
                accepted_topic=accepted_topic,
                switch=switch,
                within_s=timeout,
                say=_say,
            )
        )
    except RebuildError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.to_json(), default=str, indent=2))
    else:
        click.echo(
            f"rebuilt {result.events:,} event(s) of {result.trades:,} trade(s) from {result.records_read:,} "
            f"record(s) into {result.workspace} in {result.seconds:.1f}s"
        )
        if result.compared_with:
            trades = len(result.trades_differing())
            verdict = (
                "identical"
                if result.identical
                else f"{len(result.differences):,} difference(s) in {trades:,} trade(s)"
            )
            click.echo(f"compared with the {result.compared_with}: {verdict}")
        if result.unannounced:
            click.echo(f"{result.unannounced:,} accepted event(s) not on the accepted stream yet")
        for d in result.differences[:50]:
            click.echo(f"  trade {d.trade_id or '?'}: {d.kind} {d.key}: {d.detail}")
        if len(result.differences) > 50:
            click.echo(f"  … and {len(result.differences) - 50:,} more (--json lists them all)")
        if result.switched:
            kept = f"; the previous tables are in schema {result.previous}" if result.previous else ""
            click.echo(
                f"switched: schema {result.live} is the rebuild ({result.positions_kept:,} accepted "
                f"position(s) kept, {result.to_publish:,} to publish){kept}"
            )
        elif switch:
            click.echo("not switched: the rebuild differs from the live ledger")
    if not result.identical:
        sys.exit(1)


# -- generation -------------------------------------------------------------------------------------------


@click.group("generation", cls=JsonGroup)
def generation() -> None:
    """Topic generations: move the trade topics to more partitions (docs/operations.md, ADR 0040)."""


def _pairs(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for item in value:
        source, sep, destination = item.partition("=")
        if not sep or not source or not destination:
            raise click.BadParameter(f"{item!r}: expected SOURCE=DESTINATION (topic names)")
        pairs.append((source, destination))
    return pairs


@generation.command("copy", cls=JsonCommand)
@click.option(
    "--partitions",
    type=click.IntRange(1, 1000),
    required=True,
    help="Partitions of the new generation (the new CORRIDOR_TRADE_PARTITIONS).",
)
@click.option(
    "--to",
    "to_generation",
    type=click.IntRange(2, 9999),
    help="Copy the three trade topics to <topic>.g<N>.",
)
@click.option(
    "--topic",
    "pairs",
    multiple=True,
    callback=_pairs,
    help="SOURCE=DESTINATION instead of --to (repeatable; every source must have one partition count).",
)
@click.option("--json", "as_json", is_flag=True, help="The outcome as one JSON document.")
def generation_copy(
    partitions: int, to_generation: int | None, pairs: list[tuple[str, str]], as_json: bool
) -> None:
    """Copy topics to a new generation with PARTITIONS partitions: every committed record once, keyed
    and timestamped as before, per-trade order kept. Every producer must be stopped first; a destination
    must be new or empty; the copy fails (exit 1) when a source grew meanwhile."""
    from corridor.ops.generation import GenerationError, copy_generation, default_pairs

    if bool(to_generation) == bool(pairs):
        raise click.UsageError("give either --to N or --topic SOURCE=DESTINATION (one or more)")
    chosen = pairs or default_pairs(to_generation or 2)
    try:
        report = _run(copy_generation(get_settings().bootstrap_servers, chosen, partitions, say=_say))
    except GenerationError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for source, destination in report.pairs:
            click.echo(f"{source} → {destination}: {report.copied[destination]:,} record(s)")
        click.echo(
            f"{sum(report.copied.values()):,} record(s) in {report.seconds:.1f}s, {partitions} partitions"
        )


def _pair(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[str, str]:
    source, sep, destination = value.partition("=")
    if not sep or not source or not destination:
        raise click.BadParameter(f"{value!r}: expected OLD=NEW (topic names)")
    return source, destination


@generation.command("relay-state", cls=JsonCommand)
@click.option(
    "--accepted",
    required=True,
    callback=_pair,
    help="OLD=NEW accepted streams, NEW copied from OLD by `generation copy`.",
)
@click.option(
    "--state", required=True, callback=_pair, help="OLD=NEW relay state topics (NEW is created, or empty)."
)
@click.option("--group", default="corridor-relay", show_default=True, help="The relay's consumer group.")
@click.option("--json", "as_json", is_flag=True, help="The outcome as one JSON document.")
def generation_relay_state(
    accepted: tuple[str, str], state: tuple[str, str], group: str, as_json: bool
) -> None:
    """Carry the relay's state to a new generation of the accepted stream (the relay drained and
    stopped): each trade's references become offsets of the same events in the new stream, and the
    group's offsets on the new stream are committed at its end, so nothing is relayed twice."""
    from corridor.ops.generation import GenerationError, translate_relay_state

    try:
        report = _run(
            translate_relay_state(
                get_settings().bootstrap_servers, accepted=accepted, state=state, group=group, say=_say
            )
        )
    except GenerationError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(f"{report.trades:,} trade(s), {report.refs:,} reference(s) moved to {state[1]}")


@generation.command("acls", cls=JsonCommand)
@click.option(
    "--to", "to_generation", type=click.IntRange(2, 9999), required=True, help="The new generation N."
)
@click.option("--json", "as_json", is_flag=True, help="The bindings granted, as one JSON document.")
def generation_acls(to_generation: int, as_json: bool) -> None:
    """Grant every service's principal its rights on generation N's topics, as on today's (ADR 0024,
    0040): the services started with CORRIDOR_TOPIC_GENERATION=N need them. Idempotent; the old
    generation's rights stay until the old topics are deleted."""
    from corridor.core.partners import add_acls
    from corridor.deploy.access import SERVICE_PRINCIPALS, service_acls

    bindings = [b for p in SERVICE_PRINCIPALS for b in service_acls(p.service, to_generation)]
    _run(add_acls(get_settings().bootstrap_servers, bindings))
    if as_json:
        click.echo(
            json.dumps({"generation": to_generation, "bindings": [b.to_dict() for b in bindings]}, indent=2)
        )
    else:
        click.echo(
            f"{len(bindings)} binding(s) of {len(SERVICE_PRINCIPALS)} service principals "
            f"on generation {to_generation}"
        )


def register(cli: click.Group) -> None:
    """Add the operations commands to the ``corridor`` group."""
    for command in (tail, dlq, trace, lag, backup, rebuild, generation):
        cli.add_command(command)
