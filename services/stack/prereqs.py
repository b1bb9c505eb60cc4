"""Checks for the tools the local Kafka needs: Java 17+ (Kafka 4 brokers) and Maven (to fetch the jars).

Lookups take an explicit environment so tests can point ``PATH`` at a directory of fake tools.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from corridor.stack.errors import StackError

MIN_JAVA = 17

JAVA_INSTALL_HINT = (
    "install a JDK or JRE 17 or newer, e.g. `apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), "
    "`dnf install java-17-openjdk-headless` (Fedora/RHEL) or `brew install openjdk@17` (macOS), "
    "or set JAVA_HOME to an existing installation"
)
MAVEN_INSTALL_HINT = (
    "install Apache Maven 3.6 or newer, e.g. `apt-get install maven` (Debian/Ubuntu), "
    "`dnf install maven` (Fedora/RHEL) or `brew install maven` (macOS), and make sure `mvn` is on PATH"
)

# `java -version` prints e.g. 'openjdk version "17.0.15" 2025-04-15', 'java version "1.8.0_392"',
# 'openjdk version "21" 2023-09-19' or 'openjdk version "25-ea"'.
_VERSION_RE = re.compile(r'version "(?P<version>[^"]+)"')


@dataclass(frozen=True)
class Java:
    path: Path
    major: int
    version: str


def parse_java_version(output: str) -> tuple[int, str]:
    """(major, full version) from the text of ``java -version``; raises ValueError if absent."""
    match = _VERSION_RE.search(output)
    if match is None:
        raise ValueError(f"no Java version in: {output.strip()[:200]!r}")
    version = match.group("version")
    leading = re.match(r"\d+", version)
    if leading is None:
        raise ValueError(f"unreadable Java version {version!r}")
    major = int(leading.group())
    if major == 1:  # the pre-9 scheme: 1.8.0_392 is Java 8
        minor = re.match(r"1\.(\d+)", version)
        major = int(minor.group(1)) if minor else 1
    return major, version


def find_java(env: Mapping[str, str] | None = None) -> Java:
    """The Java runtime to start Kafka with: ``$JAVA_HOME/bin/java`` if set, else ``java`` on PATH."""
    env = os.environ if env is None else env
    java_home = env.get("JAVA_HOME")
    candidate: str | None = None
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        candidate = str(Path(java_home) / "bin" / "java")
    else:
        candidate = shutil.which("java", path=env.get("PATH", ""))
    if candidate is None:
        raise StackError(
            f"Java {MIN_JAVA}+ is required to run Kafka, but `java` was not found on PATH: "
            f"{JAVA_INSTALL_HINT}"
        )
    try:
        probe = subprocess.run(
            [candidate, "-version"], capture_output=True, text=True, timeout=30, env=dict(env), check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"could not run {candidate} -version ({exc}): {JAVA_INSTALL_HINT}") from exc
    try:
        major, version = parse_java_version(probe.stderr + probe.stdout)
    except ValueError as exc:
        raise StackError(f"could not read the version of {candidate} ({exc}): {JAVA_INSTALL_HINT}") from exc
    if major < MIN_JAVA:
        raise StackError(
            f"Java {MIN_JAVA}+ is required to run Kafka 4, but {candidate} is Java {version}: "
            f"{JAVA_INSTALL_HINT}"
        )
    return Java(path=Path(candidate), major=major, version=version)


def find_maven(env: Mapping[str, str] | None = None) -> Path:
    """Path of ``mvn`` on PATH (``$MAVEN_HOME/bin/mvn`` as a fallback)."""
    env = os.environ if env is None else env
    found = shutil.which("mvn", path=env.get("PATH", ""))
    if found is None and env.get("MAVEN_HOME"):
        home_mvn = Path(env["MAVEN_HOME"]) / "bin" / "mvn"
        found = str(home_mvn) if home_mvn.is_file() else None
    if found is None:
        raise StackError(
            f"Maven is required to fetch the Kafka jars, but `mvn` was not found on PATH: "
            f"{MAVEN_INSTALL_HINT}"
        )
    return Path(found)


def check_prerequisites(env: Mapping[str, str] | None = None) -> tuple[Java, Path]:
    """Java and Maven, or one StackError naming everything missing and how to install it."""
    problems: list[str] = []
    java: Java | None = None
    maven: Path | None = None
    try:
        java = find_java(env)
    except StackError as exc:
        problems.append(exc.message)
    try:
        maven = find_maven(env)
    except StackError as exc:
        problems.append(exc.message)
    if problems or java is None or maven is None:
        raise StackError("missing prerequisites:\n  - " + "\n  - ".join(problems))
    return java, maven
