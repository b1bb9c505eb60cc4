"""Progress of long operations on stderr: one line rewritten in place on a terminal, else a line every
few seconds; nothing at all for operations that finish within a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self, label: str, *, enabled: bool = True, stream: TextIO | None = None, quiet_s: float = 1.0
    ) -> None:
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.quiet_s = quiet_s
        self._last = 0.0
        self._shown = False

    def update(self, done: int, total: int | None = None, note: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < self.quiet_s or now - self._last < (0.25 if self.tty else 3.0):
            return
        self._last = now
        share = f" ({100 * done / total:.0f} %)" if total else ""
        of = f" of {total:,}" if total else ""
        line = f"{self.label}: {done:,}{of}{share}{f' — {note}' if note else ''}"
        if self.tty:
            self.stream.write(f"\r\x1b[2K{line}")
        else:
            self.stream.write(f"[{now - self.started:6.1f}s] {line}\n")
        self.stream.flush()
        self._shown = True

    def finish(self, message: str | None = None) -> None:
        """End the progress display; ``message`` is printed when progress was shown (or always on a TTY)."""
        if not self.enabled:
            return
        if self.tty and self._shown:
            self.stream.write("\r\x1b[2K")
        if message and (self._shown or time.monotonic() - self.started >= self.quiet_s):
            self.stream.write(f"{self.label}: {message} in {time.monotonic() - self.started:.1f}s\n")
        self.stream.flush()
