"""The CLI's output contract (docs/cli.md, services/cli/output.py), without a stack: usage, errors as
JSON under --json, non-zero exits, names checked before anything is waited for, paths of the user."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from corridor.cli import _user_path, cli
from corridor.cli.output import JsonCommand
from corridor.core.settings import PROJECT_ROOT
from corridor.ops.tail import check_event_type


def _corridor(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    """``corridor ARGS`` in this process through ``main`` (as the launcher runs it): (exit, out, err)."""
    from corridor.cli import main

    monkeypatch.setenv("CORRIDOR_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # nothing may be contacted
    monkeypatch.setenv("CORRIDOR_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


Run = pytest.CaptureFixture[str]


def test_help_says_usage_corridor(capsys: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _corridor(capsys, monkeypatch, "partners", "add", "--help")
    assert code == 0
    assert out.startswith("Usage: corridor partners add")
    assert "python -m" not in out


def test_a_usage_error_under_json_is_json_with_exit_2(capsys: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = _corridor(capsys, monkeypatch, "partners", "add", "--json")
    assert code == 2
    error = json.loads(out)["error"]
    assert error == {"message": "Missing argument 'PARTNER_ID'.", "kind": "usage", "exit_code": 2}
    code, out, err = _corridor(capsys, monkeypatch, "partners", "add")
    assert code == 2 and "Missing argument" in err and out == ""


def test_an_unknown_event_type_names_the_nearest_before_anything_waits(
    capsys: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = _corridor(
        capsys, monkeypatch, "tail", "trade.shipments.v1", "--type", "TransportEvent", "--json"
    )
    assert code == 2
    message = json.loads(out)["error"]["message"]
    assert "unknown event type 'TransportEvent'; did you mean TransportEventRecorded?" in message
    assert check_event_type("corridor.trade.orders.OrderPlaced", "trade.orders.v1")
    with pytest.raises(ValueError, match=r"OrderPlaced is published on trade\.orders\.v1, never on"):
        check_event_type("OrderPlaced", "trade.shipments.v1")
    assert check_event_type("OrderPlaced", "trade.dlq.v1") == "OrderPlaced"  # any type there


def test_a_failure_inside_a_command_is_json_and_non_zero() -> None:
    @click.command(cls=JsonCommand)
    @click.option("--json", "as_json", is_flag=True)
    def boom(as_json: bool) -> None:
        raise click.ClickException("refused, and here is why")

    @click.command(cls=JsonCommand)
    @click.option("--json", "as_json", is_flag=True)
    def crash(as_json: bool) -> None:
        raise RuntimeError("a bug")

    runner = CliRunner()
    result = runner.invoke(boom, ["--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == {
        "message": "refused, and here is why", "kind": "error", "exit_code": 1,
    }  # fmt: skip
    assert runner.invoke(boom, []).exit_code == 1
    crashed = runner.invoke(crash, ["--json"])
    assert crashed.exit_code == 1 and json.loads(crashed.output)["error"]["kind"] == "internal"


def test_every_command_with_json_follows_the_contract() -> None:
    from corridor.cli import _register_subcommands

    _register_subcommands()

    def walk(group: click.Group, path: str) -> list[tuple[str, click.Command]]:
        out = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                out += walk(command, f"{path} {name}")
            else:
                out.append((f"{path} {name}", command))
        return out

    with_json = [
        (p, c)
        for p, c in walk(cli, "corridor")
        if any("--json" in o.opts for o in c.params if isinstance(o, click.Option))
    ]
    assert len(with_json) >= 15
    assert [p for p, c in with_json if not isinstance(c, JsonCommand)] == []


def test_paths_given_to_corridor_test_are_the_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tests").mkdir()
    monkeypatch.chdir(tmp_path)
    assert _user_path("tests") == str(tmp_path / "tests")
    assert _user_path("tests::test_x") == f"{tmp_path / 'tests'}::test_x"
    assert _user_path("-q") == "-q" and _user_path("no-such-thing") == "no-such-thing"


def test_the_launcher_keeps_the_users_directory(tmp_path: Path) -> None:
    launcher = (PROJECT_ROOT / "corridor").read_text(encoding="utf-8")
    assert 'cd "$ROOT"' not in launcher.replace('# No `cd "$ROOT"`', "")
    link = tmp_path / "corridor"
    link.symlink_to(PROJECT_ROOT / "corridor")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")}
    env["CORRIDOR_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    # a key file named relatively is looked for in the user's directory, not in the repository
    (tmp_path / "event.json").write_text("{}", encoding="utf-8")
    result = subprocess.run(
        [str(link), "certificates", "sign", "event.json", "--key", "mine.pem"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "'mine.pem' does not exist" in result.stderr  # resolved here: event.json was found


def test_a_generated_private_key_is_not_written_into_the_repository(
    capsys: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    code, out, _ = _corridor(
        capsys, monkeypatch, "certificates", "keys", "add", "tdap", "--generate", "--json"
    )
    assert code == 2
    error = json.loads(out)["error"]
    assert "not writing a private key into the repository" in error["message"]
    assert not list(PROJECT_ROOT.glob("tdap-*.pem"))
