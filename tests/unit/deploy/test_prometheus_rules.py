"""deploy/prometheus: the alert rules load (`promtool check rules`), fire when they should and stay quiet
when they should not (`promtool test rules`), and use only metrics the services export."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from corridor.core.metrics import FAMILIES
from corridor.core.settings import PROJECT_ROOT
from corridor.deploy.validate import ensure_promtool

pytestmark = pytest.mark.timeout(600)  # the first run on a machine downloads Debian's prometheus package

RULES = PROJECT_ROOT / "deploy" / "prometheus" / "corridor-rules.yaml"
RULE_TESTS = PROJECT_ROOT / "deploy" / "prometheus" / "corridor-rules.test.yaml"
OPERATIONS = PROJECT_ROOT / "docs" / "operations.md"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ensure_promtool()), *args], capture_output=True, text=True, check=False)


def test_rules_are_valid() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_rules_fire_as_their_unit_tests_say() -> None:
    done = promtool("test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(RULES.read_text().replace("== 0", "== = 0", 1))
    done = promtool("check", "rules", str(broken))
    assert done.returncode != 0


def test_rules_use_exported_metrics_and_point_at_a_runbook() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    known = {f.removesuffix("_total") for f in FAMILIES}
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("### ")
    }
    for rule in (r for g in groups for r in g["rules"]):
        for name in re.findall(r"\bcorridor_[a-z0-9_]+", rule["expr"]):
            base = re.sub(r"_(total|bucket|count|sum)$", "", name)
            assert base in known, f"{rule['alert']}: {name} is not a metric Corridor exports"
        runbook = rule["annotations"]["runbook"]
        assert runbook.startswith("docs/operations.md#")
        assert runbook.partition("#")[2] in anchors, f"{rule['alert']}: no section {runbook}"
