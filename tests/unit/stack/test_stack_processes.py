"""Detached processes: recorded, verified against their command line, stopped — and nothing else."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from corridor.stack import processes
from corridor.stack.processes import ProcessRecord, StackState

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_spawn_alive_terminate(tmp_path: Path) -> None:
    record = processes.spawn("sleeper", SLEEP, log=tmp_path / "sleeper.log")
    try:
        assert record.alive()
        assert processes.command_line(record.pid) == SLEEP
        assert processes.terminate([record], timeout=5) == []
        assert not record.alive()
    finally:
        processes.send_signal(record, signal.SIGKILL)
    assert "starting sleeper" in (tmp_path / "sleeper.log").read_text()


def test_a_different_command_line_is_never_signalled(tmp_path: Path) -> None:
    other = subprocess.Popen(SLEEP)
    try:
        # Same PID, another command line: as if the PID had been recycled by an unrelated process.
        impostor = ProcessRecord(name="broker-1", pid=other.pid, argv=["java", "kafka.Kafka"], log="x")
        assert not impostor.alive()
        assert not processes.send_signal(impostor, signal.SIGTERM)
        assert processes.terminate([impostor], timeout=1) == []
        assert other.poll() is None
        # A record with the right argv but another start time is not ours either.
        stale = ProcessRecord(name="s", pid=other.pid, argv=SLEEP, log="x", start_ticks=1)
        assert not stale.alive()
    finally:
        other.kill()
        other.wait()


def test_state_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "stack.json"
    assert StackState.load(path).processes == {}
    state = StackState(layout={"brokers": 3}, postgres={"embedded": True})
    state.processes["broker-1"] = ProcessRecord("broker-1", 42, ["java"], "log", ports={"PLAINTEXT": 9092})
    state.save(path)
    loaded = StackState.load(path)
    assert loaded.layout == {"brokers": 3}
    assert loaded.processes["broker-1"].ports == {"PLAINTEXT": 9092}
    assert loaded.postgres == {"embedded": True}


def test_code_fingerprint_follows_the_python_code(tmp_path: Path) -> None:
    from corridor.stack.processes import code_fingerprint

    package = tmp_path / "services" / "gateway"
    package.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    module = package / "app.py"
    module.write_text("A = 1\n")
    first = code_fingerprint(tmp_path)
    assert code_fingerprint(tmp_path) == first  # nothing changed: the running services are reused
    (tmp_path / "README.md").write_text("docs do not restart services\n")
    assert code_fingerprint(tmp_path) == first
    module.write_text("A = 22\n")  # an edit (size and mtime change)
    edited = code_fingerprint(tmp_path)
    assert edited != first
    (package / "new.py").write_text("")  # a new module
    assert code_fingerprint(tmp_path) not in (first, edited)
