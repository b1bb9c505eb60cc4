"""`corridor schemas check`: the CI gate against incompatible schema changes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from corridor.cli import cli
from corridor.core.compatibility import CompatibilityLevel
from corridor.core.evolution import History, check_against_history, git_history
from corridor.core.schemas import SchemaCatalog, catalog
from corridor.core.settings import PROJECT_ROOT, SCHEMAS_DIR

EVENT_NAMES = sorted(catalog().events)


def test_the_project_schemas_pass_against_their_own_git_history() -> None:
    # This is the CI gate: `./corridor test` fails when a commit breaks BACKWARD_TRANSITIVE.
    history = git_history(PROJECT_ROOT)
    assert history.commits >= 1
    assert check_against_history(catalog(), history) == []


def _copy_schemas(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(SCHEMAS_DIR, root / "schemas")
    return root


def _add_field(path: Path, field: dict) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["fields"].append(field)
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False), encoding="utf-8")


REQUIRED = {"name": "priority", "type": "string", "doc": "Urgency of the order."}
OPTIONAL = {"name": "priority", "type": ["null", "string"], "default": None, "doc": "Urgency of the order."}


@pytest.mark.parametrize("full_name", EVENT_NAMES)
def test_a_required_field_without_default_breaks_every_event_type(full_name: str, tmp_path: Path) -> None:
    history = History()
    history.add("baseline", catalog())
    root = _copy_schemas(tmp_path)
    _add_field(root / "schemas" / catalog().events[full_name].path.relative_to(SCHEMAS_DIR), REQUIRED)
    findings = check_against_history(SchemaCatalog(root / "schemas"), history)
    assert [f.subject for f in findings] == [catalog().events[full_name].subject]
    text = str(findings[0])
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in text and "'priority'" in text
    assert "BACKWARD_TRANSITIVE" in text


def test_an_optional_field_with_default_is_compatible(tmp_path: Path) -> None:
    history = History()
    history.add("baseline", catalog())
    root = _copy_schemas(tmp_path)
    _add_field(root / "schemas" / "orders" / "OrderPlaced.avsc", OPTIONAL)
    assert check_against_history(SchemaCatalog(root / "schemas"), history) == []


def test_a_required_field_in_a_shared_type_breaks_every_event_using_it(tmp_path: Path) -> None:
    history = History()
    history.add("baseline", catalog())
    root = _copy_schemas(tmp_path)
    _add_field(
        root / "schemas" / "common" / "Money.avsc", {"name": "fx_rate", "type": "double", "doc": "FX."}
    )
    findings = check_against_history(SchemaCatalog(root / "schemas"), history)
    subjects = {f.subject.rsplit(".", 1)[-1] for f in findings}
    assert {"OrderPlaced", "InvoiceIssued", "OrderAmended"} <= subjects
    # where Money is required the checker names the new field; inside an optional Money (a union) the
    # avro checker only reports the union branch, so the finding names the optional Money field instead
    order = next(f for f in findings if f.subject.endswith("OrderPlaced"))
    assert "lines.unit_price.fx_rate" in str(order)
    issued = next(f for f in findings if f.subject.endswith("CertificateIssued"))
    assert "goods.fob_value" in str(issued)


def test_removing_an_event_type_is_reported(tmp_path: Path) -> None:
    history = History()
    history.add("baseline", catalog())
    root = _copy_schemas(tmp_path)
    (root / "schemas" / "orders" / "OrderCancelled.avsc").unlink()
    findings = check_against_history(SchemaCatalog(root / "schemas"), history)
    assert len(findings) == 1 and "EVENT_TYPE_REMOVED" in str(findings[0])


def test_full_transitive_also_refuses_removing_a_field_without_default(tmp_path: Path) -> None:
    history = History()
    history.add("baseline", catalog())
    root = _copy_schemas(tmp_path)
    path = root / "schemas" / "orders" / "OrderCancelled.avsc"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "reason"]
    path.write_text(json.dumps(schema), encoding="utf-8")
    current = SchemaCatalog(root / "schemas")
    assert check_against_history(current, history, CompatibilityLevel.BACKWARD_TRANSITIVE) == []
    findings = check_against_history(current, history, CompatibilityLevel.FULL_TRANSITIVE)
    assert findings and "reason" in str(findings[0])


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_cli_fails_on_a_committed_history_naming_subject_and_field(tmp_path: Path) -> None:
    root = _copy_schemas(tmp_path)
    _git(root, "init", "-q")
    _git(root, "-c", "user.email=ci@corridor", "-c", "user.name=ci", "add", "schemas")
    _git(root, "-c", "user.email=ci@corridor", "-c", "user.name=ci", "commit", "-qm", "v1")
    runner = CliRunner()
    ok = runner.invoke(cli, ["schemas", "check", "--repo", str(root)])
    assert ok.exit_code == 0, ok.output
    assert "BACKWARD_TRANSITIVE-compatible with 1 commit(s)" in ok.output

    _add_field(root / "schemas" / "shipments" / "ShipmentBooked.avsc", {**REQUIRED, "name": "seal_number"})
    broken = runner.invoke(cli, ["schemas", "check", "--repo", str(root)])
    assert broken.exit_code == 1
    assert "trade.shipments.v1-corridor.trade.shipments.ShipmentBooked" in broken.output
    assert "seal_number" in broken.output and "READER_FIELD_MISSING_DEFAULT_VALUE" in broken.output
