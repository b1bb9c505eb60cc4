"""The architecture as a test: the import contract of pyproject.toml ([tool.importlinter], ADR 0001)
and strict typing, checked on the installed ``corridor`` package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from corridor.core.settings import PROJECT_ROOT


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is not installed (it is a dev dependency: pip install -e '.[dev]')"
    return found


def test_import_contract() -> None:
    """Runtime never imports tools, services never import each other, the core imports no service, the
    domain imports no I/O library."""
    result = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_mypy_strict() -> None:
    """mypy --strict over the packages listed in pyproject.toml ([tool.mypy] packages)."""
    result = subprocess.run(
        [_tool("mypy"), "--no-incremental"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
