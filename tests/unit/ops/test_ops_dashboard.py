"""The Grafana dashboard is valid JSON and queries only metric families the services expose."""

from __future__ import annotations

import json
import re
from typing import Any

from corridor.core.metrics import FAMILIES
from corridor.core.settings import PROJECT_ROOT

DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "corridor-dashboard.json"
#: The ledger's own counters (services/ledger/app.py), exposed next to the core's families.
LEDGER_COUNTERS = {
    "ledger_events_stored_total",
    "ledger_events_duplicate_total",
    "ledger_events_parked_total",
    "ledger_events_retried_applied_total",
}


def _exprs(panels: list[dict[str, Any]]) -> list[str]:
    out = []
    for panel in panels:
        out += [t["expr"] for t in panel.get("targets", [])]
        out += _exprs(panel.get("panels", []))
    return out


def test_dashboard_queries_only_known_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] == "Corridor"
    exprs = _exprs(dashboard["panels"])
    assert exprs
    known = set(FAMILIES) | LEDGER_COUNTERS
    known |= {f"{f}_{suffix}" for f in FAMILIES for suffix in ("bucket", "sum", "count")}
    used = {name for e in exprs for name in re.findall(r"\b(corridor_[a-z0-9_]+|ledger_[a-z0-9_]+)\b", e)}
    assert used <= known, used - known
    # every family is on the dashboard
    for family in FAMILIES:
        assert any(name.startswith(family) for name in used), family
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
