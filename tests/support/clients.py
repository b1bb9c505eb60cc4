"""Building and running the partner clients of clients/ (Java, Go, TypeScript) from pytest.

Each client is built once per test session (``functools.cache``), with the ecosystem's own cache:
Maven's ``~/.m2``, Go's module and build caches, npm's cache plus ``clients/typescript/node_modules``
(git-ignored, installed by ``npm ci`` from the committed lockfile, again only when the lockfile is newer).
A missing toolchain fails the test with a message saying what to install: it never passes silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLIENTS = PROJECT_ROOT / "clients"
JAVA = CLIENTS / "java"
GO = CLIENTS / "go"
TYPESCRIPT = CLIENTS / "typescript"

_INSTALL = {
    "java": "a JDK 17 or newer (Debian: openjdk-17-jdk-headless)",
    "mvn": "Apache Maven 3 (Debian: maven)",
    "go": "Go 1.26 or newer (go.dev/dl, or Debian: golang)",
    "node": "Node.js 20 or newer (Debian: nodejs)",
    "npm": "npm (Debian: npm)",
}


def require(tool: str) -> str:
    """The tool's path, or the test fails saying the toolchain is missing."""
    found = shutil.which(tool)
    if found is None:
        pytest.fail(
            f"`{tool}` is not on PATH: the partner clients' tests need {_INSTALL[tool]}", pytrace=False
        )
    return found


@dataclass(frozen=True)
class Run:
    command: list[str]
    returncode: int
    output: str

    def check(self) -> Run:
        assert self.returncode == 0, (
            f"{' '.join(self.command)} failed ({self.returncode}):\n{self.output[-6000:]}"
        )
        return self


def run(command: list[str], cwd: Path, *, timeout: float = 900, env: dict[str, str] | None = None) -> Run:
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Run(command, result.returncode, result.stdout + result.stderr)


_GO_ENV = {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly"}


# -- Java -------------------------------------------------------------------------------------------------


@cache
def java_build() -> Run:
    """``mvn -q -B test``: compiles, runs the vector tests (JUnit 5 via Surefire), writes the classpath."""
    require("java")
    mvn = require("mvn")
    return run([mvn, "-q", "-B", "test"], JAVA)


def java_tests_run() -> int:
    total = 0
    for report in (JAVA / "target" / "surefire-reports").glob("*.txt"):
        match = re.search(r"Tests run: (\d+), Failures: 0, Errors: 0", report.read_text())
        total += int(match.group(1)) if match else 0
    return total


def java_example() -> list[str]:
    java_build().check()
    classpath = (JAVA / "target" / "classpath.txt").read_text().strip()
    return [
        require("java"),
        "-cp",
        f"{JAVA / 'target' / 'classes'}{os.pathsep}{classpath}",
        "corridor.partner.Example",
    ]


# -- Go ---------------------------------------------------------------------------------------------------


@cache
def go_tests() -> Run:
    return run([require("go"), "test", "-count=1", "-v", "./..."], GO, env=_GO_ENV)


@cache
def go_example_binary() -> Path:
    binary = GO / "bin" / "corridor-example"
    run([require("go"), "build", "-o", str(binary), "./cmd/corridor-example"], GO, env=_GO_ENV).check()
    return binary


def go_example() -> list[str]:
    return [str(go_example_binary())]


# -- TypeScript -------------------------------------------------------------------------------------------


@cache
def typescript_build() -> Run:
    """``npm ci`` when node_modules is missing or older than the lockfile, then ``tsc``."""
    require("node")
    npm = require("npm")
    lock = TYPESCRIPT / "package-lock.json"
    installed = TYPESCRIPT / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        run([npm, "ci", "--no-audit", "--no-fund"], TYPESCRIPT).check()
    return run([npm, "run", "--silent", "build"], TYPESCRIPT)


@cache
def typescript_tests() -> Run:
    typescript_build().check()
    return run([require("node"), "--test", "dist/test/"], TYPESCRIPT)


def typescript_example() -> list[str]:
    typescript_build().check()
    return [require("node"), str(TYPESCRIPT / "dist" / "src" / "example.js")]
