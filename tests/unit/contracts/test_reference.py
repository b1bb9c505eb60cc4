"""contracts/reference.md is generated from the contract and the schemas, and is never stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from corridor.cli import cli
from corridor.core import contracts
from corridor.core.contracts import CONTRACTS_DIR, REFERENCE_PATH, load_asyncapi, render_reference
from corridor.core.schemas import catalog

TEXT = REFERENCE_PATH.read_text(encoding="utf-8")


def test_reference_is_up_to_date() -> None:
    assert TEXT == render_reference(), "contracts/reference.md is stale: run `corridor schemas docs`"


def test_rendering_is_deterministic() -> None:
    assert render_reference() == render_reference(load_asyncapi(), catalog())


def test_cli_regenerates_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "reference.md"
    monkeypatch.setattr(contracts, "REFERENCE_PATH", target)
    runner = CliRunner()
    first = runner.invoke(cli, ["schemas", "docs"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("updated:")
    assert target.read_text(encoding="utf-8") == render_reference()
    again = runner.invoke(cli, ["schemas", "docs"])
    assert again.exit_code == 0 and again.output.startswith("up to date:")


def _section(heading: str) -> str:
    start = TEXT.index(f"\n### {heading}\n")
    end = TEXT.find("\n### ", start + 1)
    return TEXT[start : end if end > 0 else len(TEXT)]


def test_every_event_type_and_field_is_documented() -> None:
    for event in catalog().events.values():
        section = _section(event.name)
        assert f"`{event.ce_type}` on `{event.topic}`" in section
        assert f"subject `{event.subject}`" in section
        for field in event.schema["fields"]:
            assert re.search(rf"^\| `{field['name']}` \|", section, re.M), f"{event.name}.{field['name']}"


def test_shared_types_are_documented_once() -> None:
    for name in ("Party", "Money", "Quantity", "Location", "OrderLine", "Incoterm", "CertifiedGoods"):
        assert TEXT.count(f"\n### {name}\n") == 1, name
        assert f"[{name}](#{name.lower()})" in TEXT


def test_named_types_mean_one_thing_everywhere() -> None:
    # a type defined inline in two event schemas (e.g. CertifiedGoods) must be the same definition,
    # else the reference, which documents it once, would hide a difference
    seen: dict[str, object] = {}

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            if node.get("type") in ("record", "enum"):
                assert seen.setdefault(node["name"], node) == node, node["name"]
                for f in node.get("fields", []):
                    walk(f["type"])
            elif node.get("type") in ("array", "map"):
                walk(node.get("items", node.get("values")))

    for event in catalog().events.values():
        for f in event.schema["fields"]:
            walk(f["type"])
    assert {"corridor.trade.common.Party", "corridor.trade.certificates.CertifiedGoods"} <= set(seen)


def test_links_resolve() -> None:
    headings = {
        "#" + "".join(ch for ch in h.lower() if ch.isalnum() or ch in " -_").replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", TEXT, re.M)
    }
    for target in re.findall(r"\]\(([^)]+)\)", TEXT):
        if target.startswith("#"):
            assert target in headings, target
        else:
            assert (CONTRACTS_DIR / target).exists(), target
