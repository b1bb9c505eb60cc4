"""The one error type of the stack launcher, carrying the log that explains it."""

from __future__ import annotations

from pathlib import Path


def log_tail(path: Path, lines: int = 30) -> str:
    """Last ``lines`` lines of a log file ('' if it does not exist)."""
    try:
        with path.open("rb") as handle:
            # Read only the end: broker logs grow to many megabytes.
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class StackError(RuntimeError):
    """A stack operation failed; ``log`` names the file to read, whose tail is shown with the message."""

    def __init__(self, message: str, log: Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log = log

    def __str__(self) -> str:
        if self.log is None:
            return self.message
        tail = log_tail(self.log)
        if not tail:
            return f"{self.message}\n(log: {self.log})"
        return f"{self.message}\n--- {self.log} (last lines) ---\n{tail}"
