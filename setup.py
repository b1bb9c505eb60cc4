"""Packaging glue pyproject.toml cannot express: the source folder ``services/`` installs as the import
package ``corridor`` (every subpackage found, none listed by hand), and a built wheel carries the Avro
schemas of ``schemas/`` as package data ``corridor/_schemas`` (a source checkout reads ``schemas/``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithSchemas(build_py):
    """``build_py`` that also copies ``schemas/**/*.avsc`` into the wheel's ``corridor/_schemas``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's schemas/ directly
            return
        target = Path(self.build_lib) / "corridor" / "_schemas"
        for source in sorted((ROOT / "schemas").rglob("*.avsc")):
            destination = target / source.relative_to(ROOT / "schemas")
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


setup(
    package_dir={"corridor": "services"},
    packages=["corridor", *(f"corridor.{name}" for name in find_packages("services"))],
    package_data={"corridor.monitor": ["static/*"], "corridor": ["py.typed"]},
    cmdclass={"build_py": BuildWithSchemas},
)
