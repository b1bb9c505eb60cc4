"""Where the webhooks service may send requests: public addresses only, checked at every connection.

A partner chooses the callback URL, so without a check the dispatcher would POST wherever it is told:
to the host's own services on loopback, the internal network, a cloud's metadata service (instance
credentials), and the dead-letter API would report which ports answered (a port scanner).

Rules (docs/adr/0023-application-credentials.md):

* The callback host is **resolved**, and every address it resolves to must be public: not loopback,
  private (RFC 1918, unique-local), link-local, multicast, unspecified, reserved, shared (CGNAT) nor a
  cloud metadata address (:data:`METADATA_ADDRESSES`). One bad address refuses the name (a resolver
  answering several addresses chooses which one a client uses).
* An operator **allow-list** (``CORRIDOR_WEBHOOKS_ALLOWED_CALLBACKS``: host names, addresses or
  networks, each optionally with ``:port``) lets named endpoints through anyway: an internal receiver,
  or the tests' local receivers.
* The check runs when a subscription is made **and again at every connection** the dispatcher opens
  (:class:`GuardedBackend`, under httpx), on the addresses it actually connects to: a name that
  resolved to a public address at subscription time and to 127.0.0.1 later (DNS rebinding) is refused
  before any packet is sent. Redirects are never followed (a 3xx is a failed delivery), and the
  delivery client ignores proxy variables (a proxy would connect on its behalf, unchecked).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import certifi
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Instance metadata services (AWS/GCP/Azure/OpenStack link-local, AWS IPv6, Alibaba, Azure wireserver).
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
RESOLVE_TIMEOUT_S = 5.0


class CallbackRefused(ValueError):
    """The callback's host is, or resolves to, an address the service must not reach."""


def address_refusal(ip: IPAddress) -> str | None:
    """Why the service must not connect to ``ip``, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None if ip.is_global else "not a public address"


@dataclass(frozen=True)
class AllowEntry:
    """One allow-list entry: a host name or a network, and optionally one port."""

    name: str | None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None
    port: int | None

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        entry = text.strip().lower()
        port: int | None = None
        if entry.startswith("["):  # [::1]:9000
            host, _, rest = entry[1:].partition("]")
            if rest.startswith(":"):
                port = int(rest[1:])
        elif entry.count(":") == 1:  # name:port or v4:port
            host, _, raw_port = entry.partition(":")
            port = int(raw_port)
        else:
            host = entry
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"allow-list entry {text!r}: port out of range")
        try:
            return cls(None, ipaddress.ip_network(host, strict=False), port)
        except ValueError:
            if not host or "/" in host:
                raise ValueError(f"allow-list entry {text!r} is neither a host name nor a network") from None
            return cls(host, None, port)

    def allows(self, host: str, ip: IPAddress | None, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.name is not None:
            return host.lower().rstrip(".") == self.name
        return ip is not None and self.network is not None and ip in self.network


@dataclass(frozen=True)
class CallbackPolicy:
    """The allow-list and the address rules; :meth:`resolve` is the one check used everywhere."""

    allowed: tuple[AllowEntry, ...] = ()

    @classmethod
    def from_setting(cls, value: str | Iterable[str]) -> CallbackPolicy:
        entries = value.split(",") if isinstance(value, str) else list(value)
        return cls(tuple(AllowEntry.parse(e) for e in entries if e.strip()))

    def refusal(self, host: str, ip: IPAddress, port: int) -> str | None:
        if any(entry.allows(host, ip, port) for entry in self.allowed):
            return None
        reason = address_refusal(ip)
        if reason is None:
            return None
        return f"{ip} is {reason}" if host == str(ip) else f"{host} resolves to {ip}, {reason}"

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` to connect to, each checked; raises :class:`CallbackRefused`."""
        bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            literal: IPAddress | None = ipaddress.ip_address(bare)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = await asyncio.wait_for(
                    asyncio.get_running_loop().getaddrinfo(bare, port, type=socket.SOCK_STREAM),
                    RESOLVE_TIMEOUT_S,
                )
            except (OSError, TimeoutError) as exc:
                raise CallbackRefused(f"cannot resolve {bare}: {exc}") from None
            addresses = list(
                dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
            )
            if not addresses:
                raise CallbackRefused(f"{bare} resolves to no address")
        for ip in addresses:
            reason = self.refusal(bare, ip, port)
            if reason:
                raise CallbackRefused(f"{reason}; callbacks go to public addresses only")
        return [str(ip) for ip in addresses]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with :meth:`CallbackPolicy.resolve` before every TCP connection: the
    connection goes to the checked address itself (TLS still verifies the host name: httpcore passes it
    as the server name), so nothing can re-resolve the name in between."""

    def __init__(self, policy: CallbackPolicy) -> None:
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.policy.resolve(host, port)
        except CallbackRefused as exc:
            raise httpcore.ConnectError(f"refused: {exc}") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: callbacks never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_client(policy: CallbackPolicy, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client whose every connection passes ``policy``; no redirects, no proxies from the
    environment."""
    transport = httpx.AsyncHTTPTransport()
    # httpx has no public hook for the network backend; its transport is a thin wrapper around this pool
    # (httpx 0.2x), so the pool is replaced by one on the guarded backend (tests/security checks it).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl.create_default_context(cafile=certifi.where()), network_backend=GuardedBackend(policy)
    )
    return httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False, **kwargs)
