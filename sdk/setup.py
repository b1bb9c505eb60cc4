"""Packaging glue for the partner SDK distribution ``corridor-sdk``: its modules come from the server's
source folder ``../services`` (installed as the import package ``corridor``), picked by the lists in
``pyproject.toml`` ``[tool.corridor-sdk]``; the wheel also carries ``corridor/py.typed`` and the Avro
schemas of ``../schemas`` as package data ``corridor/_schemas`` (the codec's reader schemas).

Build from the repository root: ``pip wheel --no-deps -w dist sdk/``. An editable install (what
``./corridor`` does for development) maps ``corridor`` onto ``services/`` as a whole, exactly as the
server's editable install does, so the two never disagree about where a module lives.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OWNED = tomllib.loads((HERE / "pyproject.toml").read_text())["tool"]["corridor-sdk"]
PACKAGES: tuple[str, ...] = tuple(OWNED["packages"])
MODULES: frozenset[str] = frozenset(OWNED["modules"])


def owned(package: str, module: str) -> bool:
    return f"{package}.{module}" in MODULES or any(
        package == p or package.startswith(f"{p}.") for p in PACKAGES
    )


class BuildSdk(build_py):
    """``build_py`` that keeps only the SDK's modules of each package and adds ``_schemas``."""

    def find_package_modules(self, package: str, package_dir: str) -> list[Any]:
        found: list[Any] = super().find_package_modules(package, package_dir)
        return [entry for entry in found if owned(entry[0], entry[1])]

    def run(self) -> None:
        if not self.editable_mode:  # build/ outlives a build: never ship a module left from an earlier list
            shutil.rmtree(Path(self.build_lib) / "corridor", ignore_errors=True)
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's schemas/ directly
            return
        target = Path(self.build_lib) / "corridor" / "_schemas"
        for source in sorted((ROOT / "schemas").rglob("*.avsc")):
            destination = target / source.relative_to(ROOT / "schemas")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


# Every package that holds an owned module (its __init__ included), so "corridor" itself is a package of
# this distribution, never a namespace.
_parents = {m.rsplit(".", 1)[0] for m in MODULES}
setup(
    package_dir={"corridor": "../services"},
    packages=sorted(_parents | set(PACKAGES)),
    package_data={"corridor": ["py.typed"], "corridor.core.domain": ["data/*.csv"]},  # the code lists
    include_package_data=False,
    cmdclass={"build_py": BuildSdk},
)
