"""The network of the partition cases (docs/adr/0042-network-partitions.md): the services in network
namespaces of their own, a TCP fault proxy (Toxiproxy) in front of Kafka and PostgreSQL, and firewall
rules inside a service's namespace to cut one of its links.

Layout, for one test session::

    namespace corridor-faults-<pid>-gateway   10.231.X.2/24 ──veth── 10.231.X.1  (host: the hub)
    namespace corridor-faults-<pid>-ledger    10.231.X+1.2/24 ─veth─ 10.231.X+1.1
    namespace corridor-faults-<pid>-relay     10.231.X+2.2/24 ─veth─ 10.231.X+2.1

Each namespace has its loopback, one veth end and a default route to its host end; the host accepts
for any of its own addresses, so every namespace reaches the hub ``10.231.X.1``. Toxiproxy (host
namespace, API on loopback) listens on the hub, one proxy per broker (the brokers' ``FAULTS`` listener
binds loopback and advertises the hub), one for PostgreSQL and one for the schema registry. The brokers
among themselves, the test process and its checks stay on loopback: a fault injected in a namespace
hits the services' links only. To cut brokers off from each other on loopback, each broker runs in a
cgroup v2 of its own (:class:`BrokerGroups`) and iptables in the host namespace matches the cgroup of the
socket that sends a packet.

Invariants: only addresses in 10.231.0.0/16 that this module assigns itself; only namespaces and
cgroups named ``corridor-faults-<pid>-…`` and the iptables chain ``CORRIDOR-FAULTS-<pid>``; every
namespace (and with it its veth pair and its rules) is deleted by :meth:`Network.close`, the chain and
the cgroups by :meth:`BrokerGroups.close`, and those left by a test process that no longer runs are
deleted before new ones are made. Nothing is routed beyond the host: the namespaces have no route but
the one to their own host end, and the host does not forward for them (their addresses are not NATed
anywhere).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from corridor.core.settings import get_settings
from corridor.stack import processes as stack_processes

#: Toxiproxy's Go module, and the release the suite builds (the newest the Go module proxy served when
#: this was written). ``go install`` builds it once into the default state dir's tools/ (like the Kafka
#: jars under libs/); every later run reuses the binary.
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"
TOXIPROXY_VERSION = "v2.5.0"
NAMESPACE_PREFIX = "corridor-faults-"
SUBNET_PREFIX = "10.231"


class NetworkError(RuntimeError):
    """A tool the partition cases need is missing or a network command failed."""


def _run(argv: list[str], *, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise NetworkError(f"`{' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done


# -- tools -------------------------------------------------------------------------------------------


def ensure_tools() -> None:
    """``ip`` and ``iptables``, and root to use them. iptables is installed from Debian when it is
    missing and we may (root with apt-get, as on CI); otherwise this raises: a partition case with no
    way to cut a link must fail, not skip."""
    if os.geteuid() != 0:
        raise NetworkError("the partition cases need root (network namespaces, veth pairs, iptables)")
    if shutil.which("ip") is None:
        raise NetworkError("`ip` (iproute2) is missing: apt-get install iproute2")
    if shutil.which("iptables") is None:
        if shutil.which("apt-get") is None:
            raise NetworkError("`iptables` is missing and there is no apt-get to install it")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "iptables"]
        done = subprocess.run(install, capture_output=True, text=True, env=env, check=False, timeout=600)
        if done.returncode != 0:  # the package lists may be missing on a fresh machine
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False, timeout=600)
            done = subprocess.run(install, capture_output=True, text=True, env=env, check=False, timeout=600)
        if done.returncode != 0 or shutil.which("iptables") is None:
            raise NetworkError(f"`apt-get install iptables` failed: {done.stderr.strip()[-1000:]}")


def toxiproxy_binary() -> Path:
    return get_settings().state_dir / "tools" / f"toxiproxy-{TOXIPROXY_VERSION}" / "toxiproxy-server"


def ensure_toxiproxy() -> Path:
    """The Toxiproxy server binary, built with ``go install`` from the Go module proxy on first use.
    No Go toolchain, or a failed build, raises."""
    binary = toxiproxy_binary()
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").is_file() else None)
    if go is None:
        raise NetworkError("Toxiproxy is built with Go: install a Go toolchain (`go` on PATH)")
    build = binary.parent / "build"
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    env = {**os.environ, "GOBIN": str(build), "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0"}
    done = subprocess.run(
        [go, "install", f"{TOXIPROXY_MODULE}/cmd/server@{TOXIPROXY_VERSION}"],
        capture_output=True, text=True, env=env, check=False, timeout=900,
    )  # fmt: skip
    if done.returncode != 0 or not (build / "server").is_file():
        raise NetworkError(f"building Toxiproxy {TOXIPROXY_VERSION} failed: {done.stderr.strip()[-1500:]}")
    (build / "server").rename(binary)  # atomic: a binary at that path is always a whole one
    shutil.rmtree(build, ignore_errors=True)
    return binary


# -- namespaces ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Namespace:
    """One service's namespace: its name, its veth's host end and the two addresses of the link."""

    service: str
    name: str
    host_interface: str
    host_address: str
    address: str

    def prefix(self) -> tuple[str, ...]:
        """The argv prefix that runs a command inside the namespace (``ip netns exec`` execs it: the
        pid is the command's own)."""
        return ("ip", "netns", "exec", self.name)

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run([*self.prefix(), *argv], check=check)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_namespaces() -> list[str]:
    """Delete ``corridor-faults-<pid>-…`` namespaces whose test process is gone (a run killed before
    its teardown); the veth pairs go with them."""
    removed = []
    listing = _run(["ip", "netns", "list"], check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.strip() else ""
        if not name.startswith(NAMESPACE_PREFIX):
            continue
        pid = name[len(NAMESPACE_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            _run(["ip", "netns", "delete", name], check=False)
            removed.append(name)
    return removed


def _free_subnets(count: int) -> int:
    """A third octet X such that 10.231.X … X+count-1 are on no interface of the host."""
    used = _run(["ip", "-4", "-o", "addr", "show"]).stdout
    taken = {int(part.split(".")[2]) for part in used.split() if part.startswith(f"{SUBNET_PREFIX}.")}
    for base in range(10, 250 - count, count):
        if not any(base + k in taken for k in range(count)):
            return base
    raise NetworkError(f"no free {SUBNET_PREFIX}.X.0/24 subnets left on this host")


@dataclass
class Network:
    """The namespaces of one test session, created by :meth:`create`, removed by :meth:`close`."""

    namespaces: dict[str, Namespace] = field(default_factory=dict)
    cuts: list[tuple[Namespace, tuple[str, ...]]] = field(default_factory=list)

    @classmethod
    def create(cls, services: tuple[str, ...]) -> Network:
        remove_stale_namespaces()
        network = cls()
        try:
            base = _free_subnets(len(services))
            for k, service in enumerate(services):
                network._add(service, k, base + k)
        except BaseException:
            network.close()
            raise
        return network

    def _add(self, service: str, index: int, octet: int) -> None:
        pid = os.getpid()
        ns = Namespace(
            service=service,
            name=f"{NAMESPACE_PREFIX}{pid}-{service}",
            host_interface=f"cf{pid % 100_000}h{index}",
            host_address=f"{SUBNET_PREFIX}.{octet}.1",
            address=f"{SUBNET_PREFIX}.{octet}.2",
        )
        inner = f"cf{pid % 100_000}n{index}"
        _run(["ip", "netns", "add", ns.name])
        self.namespaces[service] = ns  # from here on close() removes it
        _run(["ip", "link", "add", ns.host_interface, "type", "veth", "peer", "name", inner])
        _run(["ip", "link", "set", inner, "netns", ns.name])
        _run(["ip", "addr", "add", f"{ns.host_address}/24", "dev", ns.host_interface])
        _run(["ip", "link", "set", ns.host_interface, "up"])
        ns.run("ip", "link", "set", "lo", "up")
        ns.run("ip", "addr", "add", f"{ns.address}/24", "dev", inner)
        ns.run("ip", "link", "set", inner, "up")
        ns.run("ip", "route", "add", "default", "via", ns.host_address)

    @property
    def hub(self) -> str:
        """The host address every namespace reaches and Toxiproxy listens on: the first veth's host end."""
        return next(iter(self.namespaces.values())).host_address

    def of(self, service: str) -> Namespace:
        return self.namespaces[service]

    def cut(self, service: str, address: str, port: int) -> None:
        """Drop every TCP segment between ``service`` and ``address:port``, both ways, silently (no
        RST, no ICMP: what a pulled cable or a partitioned switch does), with iptables rules inside the
        service's namespace. Established connections stall; new ones time out."""
        ns = self.of(service)
        for rule in (
            ("OUTPUT", "-p", "tcp", "-d", address, "--dport", str(port), "-j", "DROP"),
            ("INPUT", "-p", "tcp", "-s", address, "--sport", str(port), "-j", "DROP"),
        ):
            ns.run("iptables", "-w", "5", "-A", *rule)
            self.cuts.append((ns, rule))

    def heal(self) -> None:
        """Remove every rule :meth:`cut` added."""
        while self.cuts:
            ns, rule = self.cuts.pop()
            ns.run("iptables", "-w", "5", "-D", *rule, check=False)

    def rules(self, service: str) -> str:
        return self.of(service).run("iptables", "-S", check=False).stdout

    def close(self) -> None:
        self.heal()
        for ns in self.namespaces.values():
            _run(["ip", "netns", "delete", ns.name], check=False)
            _run(["ip", "link", "delete", ns.host_interface], check=False)  # gone with its peer already
        self.namespaces.clear()


@contextlib.contextmanager
def network(services: tuple[str, ...]) -> Iterator[Network]:
    created = Network.create(services)
    try:
        yield created
    finally:
        created.close()


# -- Toxiproxy -----------------------------------------------------------------------------------------


@dataclass
class Toxiproxy:
    """A Toxiproxy server of ours (child process, API on loopback) and its HTTP API."""

    binary: Path
    api_port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, within: float = 20.0) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(self.binary), "-host", "127.0.0.1", "-port", str(self.api_port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "LOG_LEVEL": "info"},  # not a debug line per connection and direction
            )  # fmt: skip
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NetworkError(f"toxiproxy exited ({self.process.returncode}): see {self.log}")
            try:
                if httpx.get(f"{self.api}/version", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise NetworkError(f"toxiproxy did not answer on {self.api} within {within:.0f}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.api}{path}", json=body, timeout=10.0)
        if response.status_code >= 300:
            raise NetworkError(f"toxiproxy {method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def proxy(self, name: str, listen: str, upstream: str) -> None:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        self._call("POST", "/proxies", body)

    def proxies(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/proxies")
        return result

    def toxic(
        self,
        proxy: str,
        name: str,
        kind: str,
        stream: str,
        attributes: dict[str, int],
        toxicity: float = 1.0,
    ) -> None:
        """Add a toxic to ``proxy``. Toxiproxy draws ``toxicity`` once per connection and direction:
        with 0.05 about one connection in twenty gets it (existing ones when it is added, new ones as
        they open)."""
        body = {"name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        self._call("POST", f"/proxies/{proxy}/toxics", body)

    def clear(self, proxy: str) -> None:
        for toxic in self._call("GET", f"/proxies/{proxy}/toxics"):
            self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic['name']}")


# -- brokers cut off from each other (a minority partition) --------------------------------------------

#: The connection mark of a cut broker↔broker connection (bits of our own: only our drop rule matches them).
BROKER_CUT_MARK = 0x00230000


def cgroup2_root() -> Path:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or, on a hybrid host,
    ``/sys/fs/cgroup/unified``): iptables' ``cgroup --path`` is relative to it."""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return Path(fields[1])
    raise NetworkError("no cgroup v2 hierarchy is mounted: the broker partition case needs one")


@dataclass
class BrokerGroups:
    """The brokers of one test session, each in a cgroup v2 of its own, so iptables can tell which
    broker a packet on loopback comes from (``-m cgroup --path``): every broker connection leaves from
    127.0.0.1 (Kafka binds no local address), so no address or port says whose it is.

    ``<cgroup2>/corridor-faults-<pid>-brokers/broker-<n>``: no controller is enabled in them (nothing is
    limited or accounted), they only label the brokers' sockets. A broker joins its group right after
    it is spawned (:func:`brokers_in`), long before its JVM opens a socket; a socket carries the group
    of the process that opened it, for its whole life.

    :meth:`isolate` cuts one broker off from the others with a chain ``CORRIDOR-FAULTS-<pid>`` jumped to
    from ``OUTPUT`` on ``lo`` (on loopback every packet is sent by a local socket, so ``OUTPUT`` sees
    both directions): a packet the isolated broker sends to another broker's internal or controller
    port, or another broker sends to the isolated one's, marks its connection; every packet of a marked
    connection is dropped (so the answers on those connections too). Clients (the test process,
    Toxiproxy in front of the services) still reach every broker, the isolated one included.
    """

    root: Path
    name: str
    chain: str
    nodes: tuple[int, ...]
    isolated: int | None = None

    @classmethod
    def create(cls, nodes: tuple[int, ...]) -> BrokerGroups:
        remove_stale_broker_groups()
        pid = os.getpid()
        groups = cls(cgroup2_root(), f"{NAMESPACE_PREFIX}{pid}-brokers", f"CORRIDOR-FAULTS-{pid}", nodes)
        try:
            for node in nodes:
                groups.directory(node).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            groups.close()
            raise NetworkError(f"cannot make the brokers' cgroups under {groups.root}: {exc}") from exc
        return groups

    def directory(self, node: int) -> Path:
        return self.root / self.name / f"broker-{node}"

    def path(self, node: int) -> str:
        """The group as iptables names it (relative to the cgroup v2 root)."""
        return f"{self.name}/broker-{node}"

    def join(self, node: int, pid: int) -> None:
        (self.directory(node) / "cgroup.procs").write_text(f"{pid}\n")

    def members(self, node: int) -> list[int]:
        return [int(p) for p in (self.directory(node) / "cgroup.procs").read_text().split()]

    def prefix(self, node: int) -> tuple[str, ...]:
        """The argv prefix that runs a command in broker ``node``'s group (a probe that speaks for it)."""
        procs = str(self.directory(node) / "cgroup.procs")
        return ("sh", "-c", 'echo $$ > "$0" && exec "$@"', procs)

    def isolate(self, node: int, ports: dict[int, tuple[int, ...]]) -> None:
        """Cut broker ``node`` off from the others: ``ports`` maps each broker to the ports the brokers
        use among themselves (internal and controller listener)."""
        mark = f"{BROKER_CUT_MARK:#x}/{BROKER_CUT_MARK:#x}"
        others = [n for n in self.nodes if n != node]
        _run(["iptables", "-w", "5", "-N", self.chain])
        self.isolated = node  # from here on heal() removes the chain
        towards_others = ",".join(str(p) for n in others for p in ports[n])
        towards_node = ",".join(str(p) for p in ports[node])
        rules = [
            ["-m", "cgroup", "--path", self.path(node), "-m", "multiport", "--dports", towards_others],
            *(
                ["-m", "cgroup", "--path", self.path(n), "-m", "multiport", "--dports", towards_node]
                for n in others
            ),
        ]
        for match in rules:
            _run(["iptables", "-w", "5", "-A", self.chain, "-p", "tcp", *match, "-j", "CONNMARK",
                  "--set-xmark", mark])  # fmt: skip
        _run(["iptables", "-w", "5", "-A", self.chain, "-m", "connmark", "--mark", mark, "-j", "DROP"])
        _run(["iptables", "-w", "5", "-I", "OUTPUT", "1", "-o", "lo", "-j", self.chain])

    def rules(self) -> str:
        return _run(["iptables", "-S", self.chain], check=False).stdout

    def heal(self) -> None:
        """Remove the chain :meth:`isolate` made (the marks left on connections then match nothing)."""
        if self.isolated is None:
            return
        _remove_chain(self.chain)
        self.isolated = None

    def close(self) -> None:
        """Heal, and remove the groups (once the brokers in them have exited; a later run removes
        groups it could not)."""
        self.heal()
        _remove_groups(self.root / self.name)


def _remove_chain(chain: str) -> None:
    while _run(["iptables", "-w", "5", "-D", "OUTPUT", "-o", "lo", "-j", chain], check=False).returncode == 0:
        pass
    _run(["iptables", "-w", "5", "-F", chain], check=False)
    _run(["iptables", "-w", "5", "-X", chain], check=False)


def _remove_groups(top: Path) -> None:
    if not top.is_dir():
        return
    for child in sorted(top.glob("broker-*")):
        with contextlib.suppress(OSError):
            child.rmdir()  # refused while a process is in it
    with contextlib.suppress(OSError):
        top.rmdir()


def remove_stale_broker_groups() -> None:
    """Remove the groups and chains of test processes that no longer run."""
    with contextlib.suppress(NetworkError):
        root = cgroup2_root()
        for top in root.glob(f"{NAMESPACE_PREFIX}*-brokers"):
            pid = top.name[len(NAMESPACE_PREFIX) :].split("-", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                _remove_groups(top)
    if shutil.which("iptables") is None:
        return
    for line in _run(["iptables", "-S"], check=False).stdout.splitlines():
        if line.startswith("-N CORRIDOR-FAULTS-"):
            chain = line.split()[1]
            pid = chain.rsplit("-", 1)[1]
            if pid.isdigit() and not _pid_alive(int(pid)):
                _remove_chain(chain)


@contextlib.contextmanager
def brokers_in(groups: BrokerGroups) -> Iterator[None]:
    """While open, every broker the stack spawns (``up``, ``start_broker``) joins its group at once:
    ``corridor.stack.processes.spawn`` is wrapped (the stack has no hook for it; the recorded command
    line stays the broker's own, so the stack still recognises its process)."""
    original = stack_processes.spawn

    def spawn(name: str, argv: Any, **kwargs: Any) -> Any:
        record = original(name, argv, **kwargs)
        prefix, _, node = name.partition("-")
        if prefix == "broker" and node.isdigit() and int(node) in groups.nodes:
            groups.join(int(node), record.pid)
        return record

    stack_processes.spawn = spawn  # type: ignore[assignment]
    try:
        yield
    finally:
        stack_processes.spawn = original  # type: ignore[assignment]
