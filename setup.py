"""Packaging glue pyproject.toml cannot express: the source folder ``services/`` installs as the import
package ``corridor`` (every subpackage found, none listed by hand), less the modules the partner SDK
distribution ``corridor-sdk`` owns (``sdk/pyproject.toml`` ``[tool.corridor-sdk]``: the SDK, the codec,
the envelope, the domain models …, and the Avro schemas as package data ``corridor/_schemas``). The
server depends on ``corridor-sdk`` of the same version instead of shipping those files, so every module
has exactly one owning distribution (docs/adr/0022-partner-sdk-distribution.md). An editable install
(``./corridor``) maps ``corridor`` onto ``services/`` as a whole and reads the checkout's ``schemas/``.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SDK = tomllib.loads((ROOT / "sdk" / "pyproject.toml").read_text())["tool"]["corridor-sdk"]
SDK_PACKAGES: tuple[str, ...] = tuple(SDK["packages"])
SDK_MODULES: frozenset[str] = frozenset(SDK["modules"])


def _owned_by_sdk(package: str, module: str) -> bool:
    name = f"{package}.{module}"
    return name in SDK_MODULES or any(package == p or package.startswith(f"{p}.") for p in SDK_PACKAGES)


class BuildServer(build_py):
    """``build_py`` that leaves out the modules of ``corridor-sdk`` (a dependency of the server)."""

    def find_package_modules(self, package: str, package_dir: str) -> list[Any]:
        found: list[Any] = super().find_package_modules(package, package_dir)
        return [entry for entry in found if not _owned_by_sdk(entry[0], entry[1])]

    def run(self) -> None:
        if not self.editable_mode:  # build/ outlives a build: never ship a module left from an earlier list
            shutil.rmtree(Path(self.build_lib) / "corridor", ignore_errors=True)
        super().run()


setup(
    package_dir={"corridor": "services"},
    packages=[
        name
        for name in ["corridor", *(f"corridor.{name}" for name in find_packages("services"))]
        if not any(name == p or name.startswith(f"{p}.") for p in SDK_PACKAGES)
    ],
    package_data={"corridor.monitor": ["static/*"]},
    exclude_package_data={"corridor": ["py.typed"]},  # corridor-sdk ships it (setuptools adds it by default)
    include_package_data=False,  # no stray file of services/ (e.g. an SDK module) as "data" of corridor
    cmdclass={"build_py": BuildServer},
)
