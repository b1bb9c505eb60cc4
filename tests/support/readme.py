"""Run a Markdown document's code blocks as a new user would type them (tests/e2e/test_readme.py).

What runs is decided by the document, never by the test code, so README.md and docs/*.md can be
edited without touching Python:

- a fenced block whose language is ``bash``, ``sh``, ``shell`` or ``python`` runs, in document order;
- a block without a language (or ``text``, ``json``, ``console`` …) is output or a listing: never run;
- an HTML comment on the line(s) right before a fence changes that block (several directives may be
  given, separated by ``;``)::

      <!-- readme-test: skip — needs a second machine -->   illustrative: not run (a reason is required)
      <!-- readme-test: expect-exit 1 -->                   the block must fail with this status
      <!-- readme-test: timeout 300 -->                      seconds (default 120)
      <!-- readme-test: file $WORK/feed.py -->               not run: saved to this path (the shell
                                                             expands it), as the text tells the reader

  Any other directive is an error, so a typo cannot quietly skip a block.

Shell blocks run in ``bash -euo pipefail``, one process per block, but as one session: variables a
block sets (exported or not) and its working directory carry over to the next block. A python block
runs with the project's interpreter in the session's directory and environment.

Addresses: the text says the local stack's defaults (``http://127.0.0.1:8080`` …); ``Session`` is given
a map from those to the stack the tests run, and rewrites each block before running it.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SHELL_LANGUAGES = frozenset({"bash", "sh", "shell"})
RUN_LANGUAGES = SHELL_LANGUAGES | {"python"}
DEFAULT_TIMEOUT_S = 120.0

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*readme-test:\s*(?P<body>.*?)\s*-->\s*$")


class DocumentError(ValueError):
    """The document's directives are malformed (unknown directive, skip without a reason …)."""


@dataclass(frozen=True)
class Block:
    document: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    skip: str | None = None  # the reason, when the block is illustrative
    file: str | None = None  # saved to this path instead of run
    expect_exit: int = 0
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def runs(self) -> bool:
        return self.language in RUN_LANGUAGES and self.skip is None

    @property
    def where(self) -> str:
        return f"{self.document.name}:{self.line}"


def _directives(lines: list[str], where: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for text in lines:
        match = _DIRECTIVE.match(text)
        if match is None:
            continue
        for part in filter(None, (p.strip() for p in match["body"].split(";"))):
            name, _, value = part.partition(" ")
            value = value.strip().lstrip("—-:").strip()
            if name not in ("skip", "expect-exit", "timeout", "file"):
                raise DocumentError(f"{where}: unknown readme-test directive {name!r}")
            if name in ("skip", "file") and not value:
                raise DocumentError(f"{where}: `{name}` needs a value")
            found[name] = value
    return found


def parse(path: Path) -> list[Block]:
    """Every fenced block of ``path`` with the directives before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, language = opening["fence"], (opening["info"].split() or [""])[0].lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        before: list[str] = []
        j = start - 1
        while j >= 0 and _DIRECTIVE.match(lines[j]):  # directives directly above the fence
            before.insert(0, lines[j])
            j -= 1
        where = f"{path.name}:{start + 1}"
        found = _directives(before, where)
        if found and language not in RUN_LANGUAGES:
            raise DocumentError(f"{where}: readme-test directives on a {language or 'plain'} block")
        try:
            blocks.append(
                Block(
                    path,
                    start + 1,
                    language,
                    "\n".join(body) + "\n",
                    skip=found.get("skip"),
                    file=found.get("file"),
                    expect_exit=int(found.get("expect-exit", 0)),
                    timeout_s=float(found.get("timeout", DEFAULT_TIMEOUT_S)),
                )
            )
        except ValueError as exc:
            raise DocumentError(f"{where}: {exc}") from None
    return blocks


@dataclass
class Outcome:
    block: Block
    exit_code: int
    output: str  # stdout and stderr, interleaved as they came

    @property
    def ok(self) -> bool:
        return self.exit_code == self.block.expect_exit

    def report(self) -> str:
        return (
            f"{self.block.where} ({self.block.language}) exited {self.exit_code}, the document expects "
            f"{self.block.expect_exit}\n--- block ---\n{self.block.code}--- output ---\n{self.output[-6000:]}"
        )


@dataclass
class Session:
    """One reader's terminal: a working directory and variables that carry from block to block."""

    cwd: Path
    env: dict[str, str]
    addresses: dict[str, str] = field(default_factory=dict)  # the document's default → the real one
    python: str = sys.executable
    _state: Path = field(init=False)

    def __post_init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="corridor-readme-"))
        self._state = self._dir / "state.sh"
        self._state.write_text(f"cd {shlex.quote(str(self.cwd))}\n", encoding="utf-8")

    def localize(self, text: str) -> str:
        for default, real in sorted(self.addresses.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(default, real)
        return text

    def run(self, block: Block) -> Outcome:
        code = self.localize(block.code)
        if block.file is not None:
            marker = "CORRIDOR_README_END_OF_FILE"
            body = f"cat > {block.file} <<'{marker}'\n{code}{marker}\n"
        elif block.language == "python":
            script = self._dir / f"block-{block.line}.py"
            script.write_text(code, encoding="utf-8")
            body = f"{shlex.quote(self.python)} {shlex.quote(str(script))}"
        else:
            body = code
        saved = self._state.with_suffix(".next")
        # Variables set by the block are remembered whether exported or not (``set -a`` exports every
        # assignment), with the directory it ended in; the state is saved only when the block succeeded.
        program = (
            f"source {shlex.quote(str(self._state))}\nset -a\n{body}\nset +a\n"
            f"{{ export -p; printf 'cd %q\\n' \"$PWD\"; }} > {shlex.quote(str(saved))}\n"
        )
        try:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", program],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=block.timeout_s,
                check=False,
            )
            exit_code, output = done.returncode, done.stdout
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
            return Outcome(block, -1, out + f"\n[readme-test: timed out after {block.timeout_s:g} s]")
        if exit_code == 0 and saved.exists():
            lines = [
                line
                for line in saved.read_text(encoding="utf-8").splitlines()
                # bash's own read-only variables cannot be set again
                if not re.match(r"declare -[a-zA-Z]*r", line)
            ]
            self._state.write_text("\n".join(lines) + "\n", encoding="utf-8")
        saved.unlink(missing_ok=True)
        return Outcome(block, exit_code, output)


def default_addresses(real: dict[str, str | None]) -> dict[str, str]:
    """The document's default address of each component → the address the tests' stack has
    (``real`` is component → address; components without one keep the default)."""
    defaults = {
        "gateway": "http://127.0.0.1:8080",
        "registry": "http://127.0.0.1:8081",
        "ledger": "http://127.0.0.1:8082",
        "monitor": "http://127.0.0.1:8083",
        "relay": "http://127.0.0.1:8084",
        "webhooks": "http://127.0.0.1:8085",
        "kafka": "127.0.0.1:9092",
        "partner_listener": "127.0.0.1:9094",
    }
    return {defaults[k]: v.rstrip("/") for k, v in real.items() if v and k in defaults}


def environment_for(base: dict[str, str]) -> dict[str, str]:
    """The reader's environment: the test process's, without what pytest itself put there."""
    return {k: v for k, v in base.items() if not k.startswith("PYTEST_")} | {"PYTHONUNBUFFERED": "1"}
