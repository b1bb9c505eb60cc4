"""Placeholder, replaced below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write(out: Path, machine: dict[str, Any], run: dict[str, Any], results: dict[str, Any]) -> list[Path]:
    path = out / "results.json"
    path.write_text(json.dumps({"machine": machine, "run": run, "stages": results}, indent=2, default=str))
    return [path]
