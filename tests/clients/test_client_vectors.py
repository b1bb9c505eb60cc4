"""Each partner client of clients/ passes the shared test vectors (contracts/vectors/) in its own test
runner: Maven Surefire with JUnit 5, ``go test``, node's test runner. A runner that ran no test, or a
toolchain that is missing, fails here."""

from __future__ import annotations

import re

from tests.support import clients


def test_the_java_client_passes_the_vectors() -> None:
    clients.java_build().check()
    assert clients.java_tests_run() >= 7, "Surefire ran fewer vector tests than the client has"


def test_the_go_client_passes_the_vectors() -> None:
    result = clients.go_tests().check()
    passed = re.findall(r"^--- PASS: (\w+)", result.output, flags=re.M)
    assert len(passed) >= 7 and "TestCertificates" in passed, result.output[-3000:]


def test_the_typescript_client_passes_the_vectors() -> None:
    clients.typescript_build().check()
    result = clients.typescript_tests().check()
    passed = re.search(r"^# pass (\d+)$", result.output, flags=re.M)
    failed = re.search(r"^# fail (\d+)$", result.output, flags=re.M)
    assert passed and int(passed.group(1)) >= 7 and failed and failed.group(1) == "0", result.output[-3000:]
