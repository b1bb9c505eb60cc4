"""Where the project's files are: the Avro schemas (package data or the checkout) and the checkout root.

Kept apart from :mod:`corridor.core.settings` so that what the partner SDK needs (the schema catalog)
does not import pydantic-settings (docs/adr/0022-partner-sdk-distribution.md). ``settings`` re-exports
both names, so ``from corridor.core.settings import SCHEMAS_DIR`` keeps working.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: The source checkout (development tools only: contracts, codegen, the stack's Maven project).
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _schemas_dir() -> Path:
    """The Avro schemas: package data of an installed wheel (``corridor/_schemas``, copied at build time
    by the build), else the checkout's ``schemas/`` (an editable install, the single source of truth)."""
    packaged = Path(str(files("corridor"))) / "_schemas"
    return packaged if packaged.is_dir() else PROJECT_ROOT / "schemas"


SCHEMAS_DIR = _schemas_dir()
