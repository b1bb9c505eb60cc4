"""corridor.core.runner.run_service (the runner of every ``python -m corridor.<name>``) and
corridor.core.logging.configure_service_logging, without starting a server."""

from __future__ import annotations

import importlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
import uvicorn
from pydantic import BaseModel, Field

from corridor.core.logging import configure_service_logging
from corridor.core.runner import Flag, run_service


class FakeSettings(BaseModel):
    database_url: str | None = "postgresql://postgres@127.0.0.1:1/corridor"
    log_level: str = "INFO"
    log_format: str = "json"
    fake_group_id: str = Field(default="corridor-fake", pattern=r"^[a-z-]+$")
    fake_batch: int = Field(default=10, ge=1)


async def fake_app(scope: Any, receive: Any, send: Any) -> None:  # never called: no server runs
    raise AssertionError("the app was served")


FLAGS = (
    Flag("--group-id", "fake_group_id", "consumer group (default corridor-fake)"),
    Flag("--batch", "fake_batch", "records per poll (default 10)", type=int),
)


class Served:
    """What the runner did: settings the app was built from, logging calls, the uvicorn config."""

    def __init__(self) -> None:
        self.settings: FakeSettings | None = None
        self.logging: list[tuple[str, str]] = []
        self.config: uvicorn.Config | None = None
        self.before_run = 0

    def create_app(self, settings: FakeSettings) -> Any:
        self.settings = settings
        return fake_app

    def configure_logging(self, level: str, fmt: str) -> None:
        self.logging.append((level, fmt))


@pytest.fixture
def served() -> Served:
    return Served()


@pytest.fixture
def uvicorn_run(monkeypatch: pytest.MonkeyPatch, served: Served) -> Callable[[bool], None]:
    """Replace uvicorn.Server.run: record the config, and say whether the server "started"."""

    def set_started(started: bool) -> None:
        def run(self: uvicorn.Server, sockets: Any = None) -> None:
            served.config = self.config
            self.started = started

        monkeypatch.setattr(uvicorn.Server, "run", run)

    set_started(True)
    return set_started


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    names = ("aiokafka", "httpx", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
    loggers = {name: logging.getLogger(name).level for name in names}
    config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, logger_level in loggers.items():
        logging.getLogger(name).setLevel(logger_level)
    structlog.configure(**config)
    structlog.contextvars.clear_contextvars()


def run(served: Served, argv: list[str], **kwargs: Any) -> int:
    options: dict[str, Any] = {
        "description": "a fake service",
        "host": "127.0.0.1",
        "port": 8099,
        "settings": FakeSettings,
        "create_app": served.create_app,
        "configure_logging": served.configure_logging,
    }
    options.update(kwargs)
    return run_service("fake", argv, **options)


def test_invalid_settings_exit_2_naming_the_environment_when_there_are_no_flags(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    def invalid(**overrides: Any) -> FakeSettings:
        return FakeSettings(fake_batch=0, **overrides)

    assert run(served, [], settings=invalid) == 2
    err = capsys.readouterr().err
    assert err.startswith("fake: invalid CORRIDOR_* settings:\n")
    assert "fake_batch" in err
    assert served.settings is None and served.logging == []


def test_a_flag_that_does_not_validate_exits_2_with_invalid_settings(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(served, ["--group-id", "Bad Group"], flags=FLAGS) == 2
    err = capsys.readouterr().err
    assert err.startswith("fake: invalid settings:\n")
    assert "fake_group_id" in err


def test_a_badly_typed_flag_is_an_argparse_error(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(served, ["--batch", "many"], flags=FLAGS)
    assert exit_.value.code == 2
    assert "--batch: invalid int value" in capsys.readouterr().err


def test_missing_database_url_exits_2_saying_which_database(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_database(**overrides: Any) -> FakeSettings:
        return FakeSettings(database_url=None, **overrides)

    assert run(served, [], settings=no_database, database="the fake database") == 2
    assert capsys.readouterr().err == (
        "fake: CORRIDOR_DATABASE_URL is not set; point it at the fake database, "
        "e.g. CORRIDOR_DATABASE_URL=postgresql://postgres@127.0.0.1:55432/corridor\n"
    )


def test_a_service_without_a_database_need_starts_without_one(
    served: Served, uvicorn_run: Callable[[bool], None]
) -> None:
    def no_database(**overrides: Any) -> FakeSettings:
        return FakeSettings(database_url=None, **overrides)

    assert run(served, [], settings=no_database) == 0
    assert served.settings is not None and served.settings.database_url is None


@pytest.mark.parametrize("argv", [["--log-level", "loud"], ["--log-level", ""]])
def test_an_unknown_log_level_exits_2(
    served: Served, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert run(served, argv) == 2
    level = argv[1].upper()
    assert capsys.readouterr().err == (
        f"fake: unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)\n"
    )
    assert served.logging == []


def test_the_log_level_comes_from_the_settings_unless_the_flag_is_given(
    served: Served, uvicorn_run: Callable[[bool], None]
) -> None:
    def from_env(**overrides: Any) -> FakeSettings:
        return FakeSettings(**{"log_level": "warning", "log_format": "console", **overrides})

    assert run(served, [], settings=from_env) == 0
    assert run(served, ["--log-level", "debug"], settings=from_env) == 0
    assert served.logging == [("WARNING", "console"), ("DEBUG", "console")]
    assert served.config is not None and served.config.log_level == "debug"


def test_serves_with_the_flags_applied_to_the_settings(
    served: Served, uvicorn_run: Callable[[bool], None]
) -> None:
    calls: list[int] = []
    argv = ["--host", "0.0.0.0", "--port", "9", "--batch", "7"]
    assert run(served, argv, flags=FLAGS, before_run=lambda: calls.append(len(calls))) == 0
    assert served.settings == FakeSettings(fake_batch=7)  # flags not given leave the settings alone
    assert calls == [0]
    config = served.config
    assert config is not None
    assert (config.host, config.port, config.app) == ("0.0.0.0", 9, fake_app)
    assert config.log_config is None and config.access_log is False
    assert (config.lifespan, config.log_level, config.timeout_graceful_shutdown) == ("on", "info", None)


def test_exit_1_when_the_server_never_started(served: Served, uvicorn_run: Callable[[bool], None]) -> None:
    uvicorn_run(False)
    assert run(served, []) == 1


def test_graceful_shutdown_timeout_and_quiet_loggers(
    served: Served, uvicorn_run: Callable[[bool], None]
) -> None:
    assert run(served, [], timeout_graceful_shutdown=3, quiet_loggers=("aiokafka", "httpx")) == 0
    assert served.config is not None and served.config.timeout_graceful_shutdown == 3
    assert logging.getLogger("aiokafka").level == logging.WARNING
    assert run(served, ["--log-level", "ERROR"], quiet_loggers=("httpx",)) == 0
    assert logging.getLogger("httpx").level == logging.ERROR


def test_help_lists_common_and_own_flags(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(served, ["--help"], flags=FLAGS, log_level_help="DEBUG logs everything")
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal's width
    assert out.startswith(
        "usage: python -m corridor.fake [-h] [--host HOST] [--port PORT] [--group-id GROUP_ID]"
    )
    for text in ("(default 127.0.0.1)", "(default 8099)", "(default corridor-fake)", "DEBUG logs everything"):
        assert text in out


SERVICES = ["registry", "gateway", "ledger", "monitor", "relay", "webhooks"]
NEEDS_DATABASE = {
    "registry": "the PostgreSQL database that stores the schemas",
    "gateway": "the PostgreSQL database that holds the partners",
    "ledger": "the PostgreSQL database of the backbone",
    "webhooks": "the PostgreSQL database of the backbone",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CORRIDOR_DATABASE_URL", "CORRIDOR_LOG_LEVEL", "CORRIDOR_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("service", sorted(NEEDS_DATABASE))
def test_services_without_a_database_url_exit_2(
    clean_env: None, capsys: pytest.CaptureFixture[str], service: str
) -> None:
    main = importlib.import_module(f"corridor.{service}.__main__").main
    assert main([]) == 2
    assert capsys.readouterr().err.startswith(
        f"{service}: CORRIDOR_DATABASE_URL is not set; point it at {NEEDS_DATABASE[service]}, e.g. "
    )


@pytest.mark.parametrize("service", SERVICES)
def test_services_refuse_an_unknown_log_level(
    clean_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], service: str
) -> None:
    monkeypatch.setenv("CORRIDOR_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/corridor")
    main = importlib.import_module(f"corridor.{service}.__main__").main
    assert main(["--log-level", "LOUD"]) == 2
    assert (
        capsys.readouterr().err
        == f"{service}: unknown log level 'LOUD' (use DEBUG, INFO, WARNING or ERROR)\n"
    )


def test_ledger_flags(capsys: pytest.CaptureFixture[str]) -> None:
    from corridor.ledger.__main__ import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    flags = "--host --port --group-id --db-schema --partners-schema --start-from --retry-delays --log-level"
    for flag in flags.split():
        assert flag in out


def test_service_logging_renders_stdlib_records_as_json_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    configure_service_logging("fake", "INFO", "json")
    root = logging.getLogger()
    assert len(root.handlers) == 1 and root.level == logging.INFO
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert logging.getLogger(name).handlers == [] and logging.getLogger(name).propagate
    logging.getLogger("corridor.tests.stdlib").warning("Started %s", "server")
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["event"] == "Started server"
    assert (line["level"], line["logger"], line["service"]) == ("warning", "corridor.tests.stdlib", "fake")
    assert "timestamp" in line
