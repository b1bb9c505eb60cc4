"""The gateway and the ledger as the bench runs them: their own entry points, on the bench's topics.

``python -m corridor.bench.servers gateway --port P --topics T_ORDERS,T_SHIPMENTS,T_CERTIFICATES``
runs ``corridor.gateway``'s ``main`` after pointing every event type at the bench topics;
``python -m corridor.bench.servers ledger … --commit-log FILE`` runs ``corridor.ledger``'s ``main``
subscribed to them, with its retry and dead-letter topics replaced by a bench side topic, and appends
one JSON line per stored batch to FILE: the wall-clock time ``write_batch`` returned (the PostgreSQL
transaction is committed) and the event ids it stored. That is the end of the end-to-end latency.

Everything else (settings, schemas, consumer group) comes from the usual ``CORRIDOR_*`` variables and
flags. ``--profile FILE`` writes a pyinstrument profile of the whole process when it exits;
``--hot-frames FILE`` profiles between SIGUSR1 and SIGUSR2 and writes the hot frames to FILE
(``corridor.bench.hot``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from corridor.bench.retarget import set_event_topics
from corridor.core.topics import ORDERS, TRADE_TOPICS


def topic_mapping(spec: str) -> dict[str, str]:
    """``"a,b,c"`` → {orders: a, shipments: b, certificates: c} (the order of TRADE_TOPICS)."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if len(names) == 1:
        names = names * len(TRADE_TOPICS)
    if len(names) != len(TRADE_TOPICS) or not all(n.startswith("bench.") for n in names):
        raise SystemExit(f"--topics needs {len(TRADE_TOPICS)} bench.* topics (or one for all), got {spec!r}")
    return dict(zip(TRADE_TOPICS, names, strict=True))


@contextlib.contextmanager
def ledger_on(topics: Mapping[str, str], side_topic: str) -> Iterator[None]:
    """Make ``corridor.ledger.consumer.Ledger`` consume the bench topics (``topics``: trade topic → bench
    topic; several may share one) and park or dead-letter into ``side_topic`` instead of the shared retry
    and dead-letter topics; it creates no topic at start (the bench creates its own)."""
    from corridor.ledger import consumer

    async def no_topics(*_args: Any, **_kwargs: Any) -> list[str]:
        return []

    bench = tuple(dict.fromkeys(topics[t] for t in TRADE_TOPICS))
    required = {
        "CONSUMED_TOPICS": bench,
        "RETRY_TOPICS": (side_topic,) * len(consumer.RETRY_TOPICS),
        "DLQ_TOPIC": side_topic,
        "ensure_topics": no_topics,
    }
    optional = {  # names the consumer uses for ordering and lag, where it has them
        "_TOPIC_RANK": {t: rank for rank, t in enumerate(bench)},
        "ORDERS": topics[ORDERS],
        "TRADE_TOPICS": bench,
    }
    missing = [name for name in required if not hasattr(consumer, name)]
    if missing:
        raise RuntimeError(
            f"corridor.ledger.consumer no longer has {missing}; update services/bench/servers.py"
        )
    wanted = {**required, **{k: v for k, v in optional.items() if hasattr(consumer, k)}}
    saved = {name: getattr(consumer, name) for name in wanted}
    for name, value in wanted.items():
        setattr(consumer, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(consumer, name, value)


def log_commits(path: Path) -> None:
    """Append ``{"t": wall time, "ids": [...]}`` to ``path`` each time a batch's transaction committed."""
    from corridor.ledger.store import LedgerStore

    original = LedgerStore.write_batch
    out = path.open("a", buffering=1)

    async def write_batch(self: LedgerStore, events: Any, *args: Any, **kwargs: Any) -> int:
        inserted = await original(self, events, *args, **kwargs)
        out.write(json.dumps({"t": time.time(), "ids": [str(e.event_id) for e in events]}) + "\n")
        return inserted

    LedgerStore.write_batch = write_batch  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corridor.bench.servers")
    parser.add_argument("service", choices=("gateway", "ledger"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--topics", required=True, help="bench topics for orders,shipments,certificates")
    parser.add_argument("--side-topic", help="ledger: retry and dead-letter topic")
    parser.add_argument("--commit-log", type=Path, help="ledger: JSON lines of committed batches")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile here at exit")
    parser.add_argument("--hot-frames", type=Path, help="profile between SIGUSR1 and SIGUSR2 into this file")
    args, rest = parser.parse_known_args(argv)
    mapping = topic_mapping(args.topics)

    # uvicorn re-raises the SIGTERM it handled once it has shut down; with a handler of ours in place
    # (a no-op) that ends ``main`` normally, so the profile below is written.
    signal.signal(signal.SIGTERM, lambda *_: None)
    if args.hot_frames:
        from corridor.bench.hot import install_signal_profiler

        install_signal_profiler(args.hot_frames)
    profiler = None
    if args.profile:
        from pyinstrument import Profiler
        from pyinstrument.renderers import ConsoleRenderer

        profiler = Profiler(interval=0.001)
        profiler.start()
    try:
        if args.service == "gateway":
            from corridor.gateway.__main__ import main as gateway_main

            set_event_topics(mapping)
            return gateway_main(["--host", "127.0.0.1", "--port", str(args.port), *rest])
        from corridor.ledger.__main__ import main as ledger_main

        if args.commit_log:
            log_commits(args.commit_log)
        if not args.side_topic:
            parser.error("the ledger needs --side-topic (its retry and dead-letter topic)")
        with ledger_on(mapping, args.side_topic):
            return ledger_main(["--host", "127.0.0.1", "--port", str(args.port), *rest])
    finally:
        if profiler is not None:
            profiler.stop()
            args.profile.write_text(profiler.output_text(unicode=True, color=False, show_all=False))
            args.profile.with_suffix(".html").write_text(profiler.output_html())
            flat = ConsoleRenderer(flat=True, flat_time="self", show_all=True)
            args.profile.with_name(args.profile.stem + "-flat.txt").write_text(profiler.output(flat))


if __name__ == "__main__":
    sys.exit(main())
