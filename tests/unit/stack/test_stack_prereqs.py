"""Java/Maven discovery, with a PATH of fake tools instead of mocks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corridor.stack.errors import StackError
from corridor.stack.prereqs import check_prerequisites, find_java, find_maven, parse_java_version


@pytest.mark.parametrize(
    "output, major, version",
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17, "17.0.15"),
        ('openjdk version "21" 2023-09-19', 21, "21"),
        ('java version "1.8.0_392"\nJava(TM) SE Runtime Environment', 8, "1.8.0_392"),
        ('openjdk version "25-ea" 2025-09-16', 25, "25-ea"),
        ('Picked up JAVA_TOOL_OPTIONS: -Xss2m\nopenjdk version "11.0.22" 2024-01-16 LTS', 11, "11.0.22"),
    ],
)
def test_parse_java_version(output: str, major: int, version: str) -> None:
    assert parse_java_version(output) == (major, version)


def test_parse_java_version_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_java_version("bash: java: command not found")


def fake_tool(directory: Path, name: str, stderr: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' '{stderr}' >&2\n")
    path.chmod(0o755)
    return path


def env_with_path(*dirs: Path) -> dict[str, str]:
    return {"PATH": os.pathsep.join(map(str, dirs)), "HOME": os.environ.get("HOME", "/")}


def test_java_missing_says_how_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(StackError) as caught:
        find_java(env_with_path(empty))
    message = str(caught.value)
    assert "Java 17+" in message and "not found" in message
    assert "openjdk-17" in message and "JAVA_HOME" in message


def test_old_java_is_refused(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "java", 'openjdk version "11.0.22" 2024-01-16')
    with pytest.raises(StackError, match=r"is Java 11\.0\.22"):
        find_java(env_with_path(bin_dir))


def test_java_17_on_path_is_found(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    java = fake_tool(bin_dir, "java", 'openjdk version "17.0.15" 2025-04-15')
    found = find_java(env_with_path(bin_dir))
    assert (found.path, found.major) == (java, 17)


def test_java_home_wins_over_path(tmp_path: Path) -> None:
    fake_tool(tmp_path / "bin", "java", 'openjdk version "11.0.1"')
    home_java = fake_tool(tmp_path / "jdk21" / "bin", "java", 'openjdk version "21.0.2"')
    env = env_with_path(tmp_path / "bin") | {"JAVA_HOME": str(tmp_path / "jdk21")}
    assert find_java(env).path == home_java


def test_maven_missing_says_how_to_install(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    with pytest.raises(StackError, match="apt-get install maven"):
        find_maven(env_with_path(bin_dir))


def test_check_prerequisites_names_everything_missing(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    with pytest.raises(StackError) as caught:
        check_prerequisites(env_with_path(bin_dir))
    message = str(caught.value)
    assert "`java` was not found" in message and "`mvn` was not found" in message


def test_check_prerequisites_ok(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "java", 'openjdk version "17.0.15" 2025-04-15')
    mvn = fake_tool(bin_dir, "mvn")
    java, maven = check_prerequisites(env_with_path(bin_dir))
    assert java.major == 17 and maven == mvn
