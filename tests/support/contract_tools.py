"""The ecosystem's contract tools, installed by the project's own files and cached between runs.

npm tools (the AsyncAPI parser with its Avro schema parser, Modelina, openapi-typescript, openapi-fetch,
TypeScript) are pinned by ``contracts/tools/package.json`` and its lockfile; ``npm_tools()`` runs
``npm ci`` into ``.cache/contract-tools`` (gitignored) only when the lockfile changed since the last
install, and copies the scripts of ``contracts/tools`` beside ``node_modules`` on every call. Python tools
(openapi-spec-validator, openapi-python-client, cloudevents) are dev extras in ``pyproject.toml``.

A missing tool is an error (``ToolMissing``), never a skip: the tests that use these fail.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TOOLS_SRC = PROJECT_ROOT / "contracts" / "tools"
TOOLS_DIR = Path(os.environ.get("CORRIDOR_CONTRACT_TOOLS_DIR", PROJECT_ROOT / ".cache" / "contract-tools"))
_STAMP = ".installed-lock-sha256"


class ToolMissing(RuntimeError):
    """A tool the contract checks need is not installed and cannot be installed."""


def _which(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise ToolMissing(f"{name} is not on PATH: the contract checks need Node.js and npm")
    return found


def npm_tools() -> Path:
    """The folder holding ``node_modules`` of ``contracts/tools`` and its scripts (installed if needed)."""
    npm = _which("npm")
    _which("node")
    lock = (TOOLS_SRC / "package-lock.json").read_bytes() + (TOOLS_SRC / "package.json").read_bytes()
    digest = hashlib.sha256(lock).hexdigest()
    TOOLS_DIR.mkdir(parents=True, exist_ok=True)
    with (TOOLS_DIR / ".lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one installer at a time (parallel sessions share the cache)
        stamp = TOOLS_DIR / _STAMP
        installed = stamp.exists() and stamp.read_text().strip() == digest
        if not installed or not (TOOLS_DIR / "node_modules").is_dir():
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(TOOLS_SRC / name, TOOLS_DIR / name)
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=TOOLS_DIR,
                capture_output=True,
                text=True,
                timeout=900,
            )
            if done.returncode != 0:
                raise ToolMissing(
                    f"npm ci in {TOOLS_DIR} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
                )
            stamp.write_text(digest)
        for script in TOOLS_SRC.iterdir():
            if script.suffix in (".mjs", ".mts", ".ts", ".json") and not script.name.startswith("package"):
                shutil.copyfile(script, TOOLS_DIR / script.name)
    return TOOLS_DIR


def run_node(script: str, *args: str, timeout: float = 300, cwd: Path | None = None) -> str:
    """Run a script of ``contracts/tools`` with node; its stdout (a failure raises with stderr)."""
    tools = npm_tools()
    done = subprocess.run(
        [_which("node"), str(tools / script), *args],
        cwd=cwd or tools,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"node {script} {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-4000:]}"
        )
    return done.stdout


def run_node_json(script: str, *args: str, timeout: float = 300) -> Any:
    return json.loads(run_node(script, *args, timeout=timeout))


def npm_bin(name: str) -> Path:
    """An executable of an installed npm package (``openapi-typescript``, ``tsc``)."""
    path = npm_tools() / "node_modules" / ".bin" / name
    if not path.exists():
        raise ToolMissing(f"{name} is not installed in {path.parent}")
    return path
