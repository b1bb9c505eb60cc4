"""A real headless Chromium for end-to-end tests, driven over the DevTools protocol.

Debian's ``chromium`` (``/usr/bin/chromium``, or ``CORRIDOR_CHROMIUM``) runs headless with its own
throwaway profile and no network features of its own (no sync, component updates, QUIC …), listening
for DevTools on a free local port. A test opens a page, waits until a JavaScript condition holds (live
data arrived and was rendered), reads the DOM and takes PNG screenshots::

    with Chromium(tmp_path) as browser:
        browser.goto("http://127.0.0.1:8083/")
        browser.wait_for("document.body.dataset.ticks > 0")
        total = browser.evaluate("document.querySelector('[data-topic]').dataset.endOffset")
        browser.screenshot(tmp_path / "page.png")

The websocket client is the ``websockets`` package (its synchronous client); one command is in flight at
a time, and events the browser sends meanwhile are kept for :meth:`Chromium.wait_event`.

Why not ``chromium --headless --virtual-time-budget=… --dump-dom URL``: virtual time does not advance
while a request is open, and a live page keeps one open (the dashboard's server-sent events), so the
one-shot dump never returns; and a test must wait for live data anyway, which only a session can do.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

DEFAULT_BINARY = "/usr/bin/chromium"

#: Flags for a quiet, self-contained headless browser (root in CI needs --no-sandbox).
FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


class BrowserError(RuntimeError):
    """Chromium did not start, a DevTools command failed, or a condition never held."""


def find_chromium() -> str | None:
    """Path of the Chromium binary (``CORRIDOR_CHROMIUM``, /usr/bin/chromium, or on PATH)."""
    configured = os.environ.get("CORRIDOR_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    if Path(DEFAULT_BINARY).exists():
        return DEFAULT_BINARY
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """One headless Chromium process and a DevTools session on its first page."""

    def __init__(
        self,
        work_dir: Path,
        *,
        binary: str | None = None,
        width: int = 1400,
        height: int = 1000,
        start_timeout: float = 30.0,
    ) -> None:
        found = binary or find_chromium()
        if not found:
            raise BrowserError("Chromium not found: install Debian's chromium (apt-get install chromium)")
        self.binary = found
        self.work_dir = Path(work_dir)
        self.width, self.height = width, height
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._ws: ClientConnection | None = None
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self._log_path = self.work_dir / "chromium.log"
        self._log: Any = None

    # -- process --------------------------------------------------------------------------------------

    def start(self) -> Chromium:
        profile = self.work_dir / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "DevToolsActivePort").unlink(missing_ok=True)  # a reused profile's is stale
        self._log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            [
                self.binary,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={self.width},{self.height}",
                "about:blank",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        port = self._devtools_port(profile / "DevToolsActivePort")
        ws_url = self._page_websocket(port)
        # entered as a context manager (websockets ≥ 17.1 warns otherwise); left in close()
        self._ws = connect(ws_url, max_size=None, open_timeout=10).__enter__()
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        return self

    def _fail(self, message: str) -> BrowserError:
        tail = ""
        if self._log_path.exists():
            lines = self._log_path.read_text(errors="replace").splitlines()
            tail = "\n".join(lines[-15:])
        return BrowserError(f"{message}\n--- chromium log (last lines) ---\n{tail}")

    def _devtools_port(self, marker: Path) -> int:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise self._fail(f"Chromium exited with {self._process.returncode} during startup")
            if marker.exists():
                first = marker.read_text().splitlines()[:1]
                if first and first[0].strip().isdigit():
                    return int(first[0])
            time.sleep(0.1)
        raise self._fail(f"Chromium did not open its DevTools port within {self.start_timeout:.0f}s")

    def _page_websocket(self, port: int) -> str:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                targets = []
            for target in targets:
                if target.get("type") == "page" and target.get("webSocketDebuggerUrl"):
                    return str(target["webSocketDebuggerUrl"])
            time.sleep(0.1)
        raise self._fail("Chromium has no page target to drive")

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._ws.__exit__(None, None, None)
            except Exception:  # the browser may already be gone
                pass
            self._ws = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Chromium:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- protocol ------------------------------------------------------------------------------------

    def send(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Run one DevTools command and return its result (events arriving meanwhile are kept)."""
        if self._ws is None:
            raise BrowserError("the browser is not started")
        self._next_id += 1
        command_id = self._next_id
        self._ws.send(json.dumps({"id": command_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail(f"no answer to {method} within {timeout:.0f}s")
            try:
                message = json.loads(self._ws.recv(timeout=remaining))
            except TimeoutError:
                continue
            if message.get("id") == command_id:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self._events.append(message)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        """The next (or an already received) event ``method``."""
        if self._ws is None:
            raise BrowserError("the browser is not started")
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method:
                    del self._events[: i + 1]
                    params: dict[str, Any] = event.get("params", {})
                    return params
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail(f"no {method} event within {timeout:.0f}s")
            try:
                message = json.loads(self._ws.recv(timeout=remaining))
            except TimeoutError:
                continue
            if "method" in message:
                self._events.append(message)

    # -- page ---------------------------------------------------------------------------------------

    def goto(self, url: str, timeout: float = 30.0) -> None:
        """Navigate and wait for the load event."""
        self._events.clear()
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired", timeout=timeout)

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send(
            "Runtime.evaluate", timeout=timeout, expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error in {expression!r}: {text}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.2) -> Any:
        """Poll a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self.evaluate(expression)
            if last:
                return last
            time.sleep(interval)
        raise BrowserError(f"{expression!r} did not hold within {timeout:.0f}s (last value {last!r})")

    def dom(self) -> str:
        """The rendered document as HTML (what ``--dump-dom`` prints)."""
        return str(self.evaluate("document.documentElement.outerHTML"))

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the viewport, or of the whole page height."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
            height = max(self.height, int(size.get("height", self.height)))
            params["clip"] = {"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", timeout=60, **params)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
