"""What bounds a figure: the hot frames of a profile (``corridor.bench.hot``).

A missed target in the report names what its time went to, taken from a pyinstrument profile of the
process that did the work (the gateway or ledger process, or the bench process for in-process stages),
never written by hand. Each sample is charged to its **innermost Corridor frame** — the deepest frame of
``corridor`` code on its stack, with whatever libraries it called (fastavro under ``Codec.encode_body``,
asyncpg under ``GatewayStore.claim``); samples with no Corridor frame on the stack (the HTTP server, the
Kafka client's sender, the event loop) go to the innermost library's package. The shares of all frames
add up to the profiled thread's CPU time: samples are timed with its CPU clock (``time.thread_time``),
so a wait (the event loop idle in ``select`` or in uvloop, a round trip to PostgreSQL) costs nothing,
and a frame's share is its share of the CPU, which is what CPU per event measures. The clock is read
on every Python call, which overstates call-heavy Python code: a share says where to look; a cut is
judged by CPU per event before and after.

Processes started by the bench profile on demand (``servers.py``: SIGUSR1 starts, SIGUSR2 stops and
writes :func:`hot_frames` as JSON), so a measured repetition never runs under the profiler: an extra,
profiled one follows it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

#: Frames listed per profile.
TOP = 6
#: Sampling interval (s): coarse enough that the profiled repetition runs close to its normal speed.
INTERVAL_S = 0.001

_CORRIDOR_DIR = str(Path(__file__).resolve().parents[1]) + os.sep


def _library(path: str) -> str:
    """``site-packages/uvicorn/protocols/…`` → ``uvicorn``; ``…/lib/python3.11/asyncio/events.py`` →
    ``asyncio``; ``…/lib/python3.11/selectors.py`` → ``selectors``."""
    parts = Path(path).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else "?"
    if len(parts) >= 2 and parts[-2].startswith("python3"):
        return Path(path).stem
    return parts[-2] if len(parts) >= 2 else Path(path).stem


def _is_idle(frame: Any) -> bool:
    return bool(frame.function == "select" and (frame.file_path or "").endswith("selectors.py"))


def hot_frames(root: Any, top: int = TOP) -> dict[str, Any]:
    """``{"busy_s", "frames": [{"frame", "share"}, …]}`` of a pyinstrument frame tree (``root``, from
    ``Session.root_frame()``), ``top`` frames by share of the busy (CPU) time."""
    charged: Counter[str] = Counter()

    def walk(frame: Any, label: str | None) -> None:
        if _is_idle(frame):
            return
        path = frame.file_path or ""
        if path.startswith(_CORRIDOR_DIR):
            label = f"{frame.function} (services/{path[len(_CORRIDOR_DIR) :]}:{frame.line_no})"
        elif path and not path.startswith("<") and (label is None or label.startswith("library ")):
            label = f"library {_library(path)}"
        children = list(frame.children)
        charged[label or "?"] += max(frame.time - sum(c.time for c in children), 0.0)
        for child in children:
            walk(child, label)

    if root is not None:
        walk(root, None)
    busy = sum(charged.values())
    frames = [
        {"frame": label, "share": round(t / busy, 3)} for label, t in charged.most_common(top) if busy > 0
    ]
    return {"busy_s": round(busy, 3), "frames": frames, "method": "innermost Corridor frame"}


class _CpuProfiler:
    """A pyinstrument profiler whose clock is the thread's CPU time (restored to wall time at stop)."""

    def __init__(self) -> None:
        from pyinstrument import Profiler
        from pyinstrument.stack_sampler import get_stack_sampler

        self._sampler = get_stack_sampler()
        self._sampler.timer_func = time.thread_time
        self._profiler = Profiler(interval=INTERVAL_S, async_mode="disabled")
        self._profiler.start()

    def stop(self) -> dict[str, Any]:
        try:
            session = self._profiler.stop()
        finally:
            self._sampler.timer_func = None
        return hot_frames(session.root_frame())


@contextlib.contextmanager
def profiled_here(into: dict[str, Any]) -> Iterator[None]:
    """Profile this process for the block; ``into`` gets :func:`hot_frames` afterwards."""
    profiler = _CpuProfiler()
    try:
        yield
    finally:
        into.update(profiler.stop())


def install_signal_profiler(out: Path) -> None:
    """In a service process: SIGUSR1 starts profiling, SIGUSR2 stops it and writes :func:`hot_frames`
    to ``out`` (JSON). Handlers run on the main thread between bytecodes, beside the event loop."""
    state: dict[str, _CpuProfiler] = {}

    def start(*_: Any) -> None:
        if "profiler" not in state:
            state["profiler"] = _CpuProfiler()

    def stop(*_: Any) -> None:
        profiler = state.pop("profiler", None)
        if profiler is not None:
            found = profiler.stop()
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps(found))
            tmp.replace(out)  # the bench waits for the file: it appears whole

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


def _forget(out: Path) -> None:
    out.unlink(missing_ok=True)


def _written(out: Path) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = json.loads(out.read_text())
    except FileNotFoundError:
        return None
    return found


@contextlib.asynccontextmanager
async def profiled_process(pid: int | None, out: Path, into: dict[str, Any]) -> AsyncIterator[None]:
    """Profile the service process ``pid`` (started with ``--hot-frames out``) for the block; ``into``
    gets its :func:`hot_frames`, or ``{"error": …}`` when it wrote none in 10 s."""
    import asyncio

    if pid is None:
        into["error"] = "no process"
        yield
        return
    _forget(out)
    os.kill(pid, signal.SIGUSR1)
    await asyncio.sleep(0.05)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGUSR2)
        for _ in range(200):
            found = _written(out)
            if found is not None:
                into.update(found)
                break
            await asyncio.sleep(0.05)
        else:
            into["error"] = f"the process {pid} wrote no profile to {out}"
