"""Detached child processes and the JSON state file that remembers them.

The stack must outlive the CLI that started it, so every process is started in its own session with
its output sent to a file, and its PID, command line and start time are written to
``<state_dir>/stack.json``. Before a signal is sent, the live process must still show the recorded
command line (and start time, where the OS tells it): a recycled PID never gets killed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corridor.stack.errors import StackError

STATE_VERSION = 1

# Popen objects of the processes this Python process started: kept so they can be reaped (no
# zombies while e.g. a test kills a broker) and never garbage-collected while the child runs.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass
class ProcessRecord:
    """What we know about one process we started."""

    name: str
    pid: int
    argv: list[str]
    log: str
    cwd: str | None = None
    start_ticks: int | None = None
    started_at: float = 0.0
    url: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    #: Fingerprint of the Python code the process was started from (``code_fingerprint``), if known.
    code: str | None = None

    def alive(self) -> bool:
        """True if the PID is running and is still the process we started."""
        return matches(self.pid, self.argv, self.start_ticks)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


# -- inspecting processes --------------------------------------------------------------------------


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """Start time of the process in clock ticks since boot (Linux), to tell a recycled PID apart."""
    fields = _proc_stat(pid)
    if fields is None or len(fields) < 20:
        return None
    return int(fields[19])  # field 22 of /proc/<pid>/stat; fields[0] is field 3


def command_line(pid: int) -> list[str] | None:
    """argv of a running process, or None if it is gone (or a zombie)."""
    fields = _proc_stat(pid)
    if fields is not None:
        if fields[0] in {"Z", "X"}:
            return None
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]
    if sys.platform.startswith("linux"):
        return None
    # No /proc (macOS): ps prints the command line joined by spaces.
    probe = subprocess.run(
        ["ps", "-o", "stat=,args=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    line = probe.stdout.strip()
    if probe.returncode != 0 or not line or line.startswith("Z"):
        return None
    return line.split(None, 1)[1].split(" ") if " " in line else []


def matches(pid: int, argv: Sequence[str], ticks: int | None = None) -> bool:
    _reap(pid)
    actual = command_line(pid)
    if actual is None:
        return False
    if sys.platform.startswith("linux"):
        if actual != list(argv):
            return False
    elif " ".join(actual) != " ".join(argv):
        return False
    return ticks is None or start_ticks(pid) in {None, ticks}


def _reap(pid: int) -> None:
    """Collect the exit status of our own dead children so they do not linger as zombies."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            _children.pop(pid, None)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# -- starting and stopping -------------------------------------------------------------------------


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    url: str | None = None,
    ports: Mapping[str, int] | None = None,
    code: str | None = None,
) -> ProcessRecord:
    """Start ``argv`` detached (own session, output appended to ``log``) and describe it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {' '.join(argv)}\n".encode())
        out.flush()
        try:
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(cwd) if cwd else None,
                env=dict(env) if env is not None else None,
                # A new session: Ctrl-C in the terminal that ran `stack up` must not reach the stack.
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise StackError(f"could not start {name}: {exc}", log) from exc
    _children[child.pid] = child
    return ProcessRecord(
        name=name,
        pid=child.pid,
        argv=list(argv),
        log=str(log),
        cwd=str(cwd) if cwd else None,
        start_ticks=start_ticks(child.pid),
        started_at=time.time(),
        url=url,
        ports=dict(ports or {}),
        code=code,
    )


def code_fingerprint(root: Path) -> str:
    """Changes whenever a Python file under ``root/services`` (or ``pyproject.toml``) is added, removed or
    modified: a service process started from other code is not reused by ``up``."""
    digest = hashlib.sha256()
    files = sorted(root.joinpath("services").rglob("*.py"))
    for path in [*files, root / "pyproject.toml"]:
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path.relative_to(root)}\0{stat.st_mtime_ns}\0{stat.st_size}\n".encode())
    return digest.hexdigest()[:16]


def send_signal(record: ProcessRecord, sig: int) -> bool:
    """Signal the recorded process if it is still the one we started. Returns True if signalled."""
    if not record.alive():
        return False
    try:
        os.kill(record.pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_exit(records: Sequence[ProcessRecord], timeout: float) -> list[ProcessRecord]:
    """Wait up to ``timeout`` s for the processes to exit; returns those still alive."""
    deadline = time.monotonic() + timeout
    remaining = [r for r in records if r.alive()]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        remaining = [r for r in remaining if r.alive()]
    return remaining


def terminate(records: Sequence[ProcessRecord], timeout: float) -> list[str]:
    """SIGTERM the processes together, SIGKILL those still running after ``timeout`` s.

    Returns the names of the processes that had to be killed.
    """
    signalled = [r for r in records if send_signal(r, signal.SIGTERM)]
    stubborn = wait_exit(signalled, timeout)
    for record in stubborn:
        send_signal(record, signal.SIGKILL)
    if stubborn:
        wait_exit(stubborn, 10.0)
    return [r.name for r in stubborn]


# -- the state file --------------------------------------------------------------------------------


@dataclass
class StackState:
    """Contents of ``stack.json``: the layout ``up`` used and the processes it started."""

    layout: dict[str, Any] = field(default_factory=dict)
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    postgres: dict[str, Any] = field(default_factory=dict)
    last_up: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> StackState:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise StackError(
                f"unreadable state file {path} ({exc}); remove it after checking that no stack runs"
            ) from exc
        return cls(
            layout=dict(data.get("layout", {})),
            processes={k: ProcessRecord.from_json(v) for k, v in data.get("processes", {}).items()},
            postgres=dict(data.get("postgres", {})),
            last_up=dict(data.get("last_up", {})),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "version": STATE_VERSION,
            "layout": self.layout,
            "processes": {k: v.to_json() for k, v in sorted(self.processes.items())},
            "postgres": self.postgres,
            "last_up": self.last_up,
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(path)  # atomic: a crash never leaves half a state file


@contextlib.contextmanager
def locked(lock_file: Path, timeout: float = 300.0, on_wait: Any = None) -> Iterator[None]:
    """Hold an exclusive lock on the stack: two `up`s (two pytest sessions…) must not race."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if not waited and on_wait is not None:
                    on_wait(f"waiting for another stack command holding {lock_file}…")
                waited = True
                if time.monotonic() > deadline:
                    raise StackError(
                        f"another stack command holds {lock_file} for more than {timeout:.0f}s"
                    ) from exc
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
