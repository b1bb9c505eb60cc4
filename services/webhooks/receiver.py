"""A reference receiver of Corridor webhooks: what a partner's endpoint has to do, in one small module.

For every POST it

1. checks ``Corridor-Signature`` (``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``) in constant
   time against the shared secret(s) — 401 when it does not match;
2. refuses a timestamp more than ``tolerance_s`` (5 minutes) from its clock — 401: a captured delivery
   cannot be replayed later;
3. refuses a signature it already accepted inside that window — 409: nor replayed at once;
4. reads the CloudEvents JSON document and is **idempotent on its ``id``**: the dispatcher delivers at
   least once (a retry after a lost answer, a redelivery), so an event processed before is acknowledged
   (200, ``duplicate``) and not processed again;
5. answers the subscription's verification request (a signed document of type
   ``corridor.webhooks.subscription.verification``, verification.py), once its signature checked, by
   echoing its challenge;
6. answers 2xx only once the event is safely handled (``on_event`` returned); any other answer, or none
   within the dispatcher's timeout, is retried with backoff.

It is a plain ASGI application (no framework), run with any ASGI server::

    CORRIDOR_WEBHOOK_SECRET=whsec_… python -m corridor.webhooks.receiver --port 9000

which prints each new event as one JSON line. State (seen ids and signatures) is in memory here; a real
receiver keeps processed ids where it keeps the events' effects (a unique key in its database), in the
same transaction. See docs/webhooks-receiver.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from corridor.webhooks import signing
from corridor.webhooks.verification import VERIFICATION_TYPE

MAX_BODY = 1024 * 1024
_MAX_REMEMBERED_IDS = 100_000

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Receiver:
    """Verifies, deduplicates and hands each new event to ``on_event`` (default: keep it in ``events``)."""

    def __init__(
        self,
        secrets: str | Sequence[str],
        *,
        tolerance_s: float = signing.DEFAULT_TOLERANCE_S,
        on_event: Handler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = [secrets] if isinstance(secrets, str) else list(secrets)  # several while rotating
        self.tolerance_s = tolerance_s
        self.on_event = on_event
        self.clock = clock
        self.events: list[dict[str, Any]] = []  # processed, in the order they came
        self._processed: OrderedDict[str, None] = OrderedDict()  # CloudEvents ids
        self._signatures: dict[str, float] = {}  # accepted v1 values → their timestamp
        self._lock = asyncio.Lock()

    async def receive(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer) for one delivery; ``headers`` with lower-case names."""
        header = headers.get(signing.HEADER.lower())
        now = self.clock()
        verified: int | None = None
        mismatch: signing.SignatureMismatch | None = None
        for secret in self.secrets:
            try:
                verified = signing.verify(header, body, secret, tolerance_s=self.tolerance_s, now=now)
                break
            except signing.SignatureMismatch as exc:
                mismatch = exc if mismatch is None or exc.stale else mismatch
        if verified is None:
            assert mismatch is not None
            return 401, {"error": "stale" if mismatch.stale else "bad_signature", "detail": mismatch.reason}
        try:
            document = json.loads(body)
            if isinstance(document, dict) and document.get("type") == VERIFICATION_TYPE:
                # the service asks whether this endpoint wants the subscription: echo its challenge
                return 200, {"challenge": document["data"]["challenge"]}
            event_id = document["id"]
            if not isinstance(event_id, str) or not event_id:
                raise ValueError("id")
        except (ValueError, KeyError, TypeError):
            return 400, {"error": "bad_document", "detail": "not a CloudEvents JSON document with an id"}
        async with self._lock:
            self._forget_old_signatures(now)
            presented = signing.parse(header or "")[1]
            if any(s in self._signatures for s in presented):
                return 409, {"error": "replay", "detail": "this signed request was already received"}
            self._signatures.update(dict.fromkeys(presented, verified))
            if event_id in self._processed:
                return 200, {"status": "duplicate", "id": event_id}
            if self.on_event is not None:
                await self.on_event(document)  # raising → 500, not remembered: the retry processes it
            else:
                self.events.append(document)
            self._processed[event_id] = None
            while len(self._processed) > _MAX_REMEMBERED_IDS:
                self._processed.popitem(last=False)
        return 200, {"status": "processed", "id": event_id}

    def _forget_old_signatures(self, now: float) -> None:
        horizon = now - 2 * self.tolerance_s
        for value in [v for v, t in self._signatures.items() if t < horizon]:
            del self._signatures[value]

    # -- ASGI ------------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _respond(send, 405, {"error": "method_not_allowed"})
            return
        body = await read_body(receive)
        if body is None:
            await _respond(send, 413, {"error": "too_large"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            status, answer = await self.receive(headers, body)
        except Exception as exc:  # the handler failed: say so, the dispatcher retries
            status, answer = 500, {"error": "handler_failed", "detail": f"{type(exc).__name__}: {exc}"}
        await _respond(send, status, answer)


async def read_body(receive: Any, limit: int = MAX_BODY) -> bytes | None:
    """An ASGI request's body, or None once it is longer than ``limit`` bytes."""
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > limit:
            return None
    return body


async def _respond(send: Any, status: int, answer: dict[str, Any]) -> None:
    payload = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m corridor.webhooks.receiver",
        description="A reference webhook receiver: verifies Corridor-Signature, refuses stale and replayed "
        "requests, deduplicates on the CloudEvents id, prints each new event as a JSON line.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--secret-env",
        default="CORRIDOR_WEBHOOK_SECRET",
        help="variable holding the shared secret(s), comma-separated",
    )
    parser.add_argument("--tolerance", type=float, default=signing.DEFAULT_TOLERANCE_S, help="seconds")
    args = parser.parse_args(argv)
    secrets = [s for s in os.environ.get(args.secret_env, "").split(",") if s]
    if not secrets:
        print(f"receiver: set {args.secret_env} to the subscription's secret", file=sys.stderr)
        return 2

    async def show(document: dict[str, Any]) -> None:
        print(json.dumps(document, ensure_ascii=False), flush=True)

    uvicorn.run(Receiver(secrets, tolerance_s=args.tolerance, on_event=show), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
