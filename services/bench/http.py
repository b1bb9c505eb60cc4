"""A minimal HTTP/1.1 load-generator client: keep-alive connections, requests serialised up front.

On a two-core machine the load generator shares the CPU with the gateway it measures; a full client
(httpx) spends about as much CPU per request as the gateway does. This one writes pre-built request
bytes and reads the status line, the headers and a ``Content-Length`` body — all the bench needs from
the gateway's answers — at a small fraction of that cost.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class HttpError(Exception):
    pass


def request_bytes(host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]

#: uvicorn closes keep-alive connections idle for 5 s; ours are dropped a little earlier.
MAX_IDLE_S = 4.0


class RawClient:
    """Up to ``size`` keep-alive connections to one server; ``send`` takes whole request bytes.

    A reused connection the server closed meanwhile (it answers nothing at all) is replaced and the
    request sent once more on a fresh one, as HTTP clients do; the gateway's idempotency keys make even
    a doubled event harmless.
    """

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self._idle: list[tuple[Conn, float]] = []
        self._slots = asyncio.Semaphore(size)

    async def _connection(self) -> tuple[Conn, bool]:
        """(connection, whether it was reused)."""
        loop = asyncio.get_running_loop()
        while self._idle:
            conn, since = self._idle.pop()
            if loop.time() - since < MAX_IDLE_S and not conn[0].at_eof():
                return conn, True
            conn[1].close()
        return await asyncio.open_connection(self.host, self.port), False

    async def send(self, request: bytes) -> Answer:
        async with self._slots:
            conn, reused = await self._connection()
            try:
                answer, keep = await self._exchange(conn, request)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                conn[1].close()
                if not (reused and (not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial)):
                    raise
                conn = await asyncio.open_connection(self.host, self.port)
                try:
                    answer, keep = await self._exchange(conn, request)
                except BaseException:
                    conn[1].close()
                    raise
            except BaseException:
                conn[1].close()  # state unknown (error or cancellation): never reuse it
                raise
            if keep:
                self._idle.append((conn, asyncio.get_running_loop().time()))
            else:
                conn[1].close()
            return answer

    @staticmethod
    async def _exchange(
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
    ) -> tuple[Answer, bool]:
        reader, writer = conn
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise HttpError(f"not an HTTP status line: {lines[0]!r}") from None
        length, keep = 0, True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                raise HttpError("chunked answers are not supported by the bench client")
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
        body = await reader.readexactly(length) if length else b""
        return Answer(status, body), keep

    async def close(self) -> None:
        for (_, writer), _since in self._idle:
            writer.close()
        self._idle.clear()

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
