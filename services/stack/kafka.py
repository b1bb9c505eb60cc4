"""Kafka 4 in KRaft mode from plain jars: resolve them, render server.properties, format, build argv.

Every node is broker and controller at once (``process.roles=broker,controller``) with a static
quorum of all nodes (``controller.quorum.voters``), which is all a laptop cluster needs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from corridor.core import credentials
from corridor.stack import tls
from corridor.stack.config import PLAIN_MECHANISM, STANDARD_AUTHORIZER, StackConfig
from corridor.stack.errors import StackError

Report = Callable[[str], None]

KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
_POM_MARKER = ".pom.sha256"


# -- settings --------------------------------------------------------------------------------


def replication_for(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) for a cluster size: 3/2 from three nodes on, else n/1.

    Matches corridor.core.topics.TopicSpec so internal topics are as durable as the trade topics.
    """
    rf = min(3, brokers)
    return rf, (2 if rf >= 3 else 1)


def server_properties(config: StackConfig, node_id: int, brokers: int) -> dict[str, str]:
    """The broker+controller settings of one node, in a stable order."""
    rf, min_isr = replication_for(brokers)
    host = config.host
    controller = config.controller_listener
    voters = ",".join(f"{n}@{host}:{config.controller_port(n)}" for n in config.node_ids(brokers))
    listeners = ",".join(f"{lst.name}://{host}:{config.port(node_id, lst)}" for lst in config.listeners)
    advertised = ",".join(
        f"{lst.name}://{lst.advertised_host or host}:{config.port(node_id, lst)}"
        for lst in config.listeners
        if lst.advertised
    )
    protocol_map = ",".join(f"{lst.name}:{lst.security_protocol}" for lst in config.listeners)
    props: dict[str, str] = {
        # -- KRaft: every node is broker and controller, static voters --
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "controller.listener.names": controller.name,
        # -- listeners: one entry per config.listeners; a SASL partner listener slots in here --
        "listeners": listeners,
        "advertised.listeners": advertised,
        "listener.security.protocol.map": protocol_map,
        "inter.broker.listener.name": config.inter_broker_listener,
        # -- storage --
        "log.dirs": str(config.broker_data_dir(node_id)),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",  # topics are created explicitly from TOPIC_SPECS
        "delete.topic.enable": "true",
        # -- durability: follows the cluster size (3/2 on three nodes, 1/1 on one) --
        "default.replication.factor": str(rf),
        "min.insync.replicas": str(min_isr),
        "unclean.leader.election.enable": "false",
        # __consumer_offsets has no min-ISR setting of its own: it takes min.insync.replicas above.
        "offsets.topic.replication.factor": str(rf),
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(rf),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        # -- dev conveniences: consumers join at once, transactions and idempotence work out of the box --
        "group.initial.rebalance.delay.ms": "0",
        "transaction.state.log.num.partitions": "10",
        "offsets.topic.num.partitions": "10",
        "transactional.id.expiration.ms": "604800000",
        # -- a laptop has two cores: fewer threads than the server defaults --
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "log.retention.check.interval.ms": "300000",
    }
    if config.secured:
        props.update(security_properties(config))
    for lst in config.listeners:
        for key, value in lst.properties.items():
            props[f"listener.name.{lst.name.lower()}.{key}"] = value
        if lst.tls:
            # The stack's broker certificate (services/stack/tls.py): key and chain in one PEM file.
            prefix = f"listener.name.{lst.name.lower()}"
            props[f"{prefix}.ssl.keystore.type"] = "PEM"
            props[f"{prefix}.ssl.keystore.location"] = str(tls.keystore_file(config.state_dir))
            props[f"{prefix}.ssl.enabled.protocols"] = "TLSv1.3,TLSv1.2"
            props[f"{prefix}.ssl.client.auth"] = "none"  # partners prove who they are with SCRAM
    return props


def security_properties(config: StackConfig) -> dict[str, str]:
    """The authorizer and the brokers' own login of a secured stack (docs/adr/0024-kafka-principals.md).

    Deny by default, and nobody is anonymous: every listener authenticates. The super users are the
    brokers themselves (``User:corridor-broker``, PLAIN on the internal and controller listeners, its
    password in this 0600 file and in the stack's credentials) and the operator
    (``User:corridor-operator``, SCRAM: the CLI and the tests). Each service is its own SCRAM principal
    with exactly its ACLs, partners are ``User:<partner id>`` with theirs.
    """
    password = broker_password(config)
    user = credentials.KAFKA_BROKER_USER
    # The broker's client side (username/password) and the server side's one user (user_<name>) at once.
    plain_jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{user}" password="{password}" user_{user}="{password}";'
    )
    props = {
        "authorizer.class.name": STANDARD_AUTHORIZER,
        "super.users": f"User:{user};User:{credentials.KAFKA_OPERATOR_USER}",
        "allow.everyone.if.no.acl.found": "false",
    }
    internal = config.listener(config.inter_broker_listener)
    if internal.sasl:
        props["sasl.mechanism.inter.broker.protocol"] = PLAIN_MECHANISM
    if config.controller_listener.sasl:
        props["sasl.mechanism.controller.protocol"] = PLAIN_MECHANISM
    for listener in (internal, config.controller_listener):
        if PLAIN_MECHANISM in listener.mechanisms:
            props[f"listener.name.{listener.name.lower()}.plain.sasl.jaas.config"] = plain_jaas
    return props


def broker_password(config: StackConfig) -> str:
    """The brokers' PLAIN password, made once per state dir (``credentials/kafka-broker.password``)."""
    path = credentials.kafka_password_file(config.state_dir, credentials.KAFKA_BROKER_USER)
    return credentials.ensure_secret(path, credentials.new_password)


def broker_login(config: StackConfig) -> dict[str, Any]:
    """aiokafka settings of the brokers' own login: what ``stack up`` uses before any SCRAM user exists
    (it creates the operator's and the services' with it); ``{}`` on a stack without authentication."""
    internal = config.listener(config.inter_broker_listener)
    if not internal.sasl:
        return {}
    return {
        "security_protocol": internal.security_protocol,
        "sasl_mechanism": PLAIN_MECHANISM,
        "sasl_plain_username": credentials.KAFKA_BROKER_USER,
        "sasl_plain_password": broker_password(config),
    }


def render_server_properties(config: StackConfig, node_id: int, brokers: int) -> str:
    lines = [
        f"# node {node_id} of {brokers}: rendered by `corridor stack up` on every start; edit",
        "# services/stack/kafka.py instead of this file.",
    ]
    lines += [f"{key}={value}" for key, value in server_properties(config, node_id, brokers).items()]
    return "\n".join(lines) + "\n"


def parse_properties(text: str) -> dict[str, str]:
    """Minimal .properties reader (key=value lines, # comments) for tests and checks."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, _, value = line.partition("=")
        result[key.strip()] = value.strip()
    return result


def write_server_properties(config: StackConfig, node_id: int, brokers: int) -> Path:
    path = config.broker_properties(node_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    config.broker_logs_dir(node_id).mkdir(parents=True, exist_ok=True)
    # The file holds the brokers' password: readable by its owner only, from the first byte.
    credentials.write_secret(path, render_server_properties(config, node_id, brokers))
    return path


# -- jars --------------------------------------------------------------------------------


def pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def jars_current(config: StackConfig) -> bool:
    marker = config.libs_dir / _POM_MARKER
    try:
        return marker.read_text().strip() == pom_digest(config.pom) and any(
            config.libs_dir.glob("kafka_*.jar")
        )
    except OSError:
        return False


def ensure_jars(config: StackConfig, maven: Path, report: Report) -> bool:
    """Resolve the pom's runtime jars into ``libs/`` unless the pom is unchanged. True if resolved."""
    if jars_current(config):
        return False
    report(f"resolving Kafka jars with Maven ({config.pom.relative_to(config.pom.parents[2])})…")
    config.kafka_dir.mkdir(parents=True, exist_ok=True)
    staging = config.kafka_dir / "libs.new"
    shutil.rmtree(staging, ignore_errors=True)
    log = config.kafka_dir / "maven.log"
    argv = [
        str(maven), "-B", "-q", "-f", str(config.pom), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    with log.open("w") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0 or not any(staging.glob("kafka_*.jar")):
        raise StackError(f"Maven could not resolve the Kafka jars (exit {result.returncode})", log)
    (staging / _POM_MARKER).write_text(pom_digest(config.pom) + "\n")
    # Swap in whole, so a failed resolution never leaves a half-filled libs/ that looks current.
    old = config.kafka_dir / "libs.old"
    shutil.rmtree(old, ignore_errors=True)
    if config.libs_dir.exists():
        config.libs_dir.replace(old)
    staging.replace(config.libs_dir)
    shutil.rmtree(old, ignore_errors=True)
    return True


def kafka_version(config: StackConfig) -> str | None:
    jars = sorted(config.libs_dir.glob("kafka_2.13-*.jar"))
    return jars[0].stem.split("-", 1)[1] if jars else None


# -- commands --------------------------------------------------------------------------------


def java_argv(config: StackConfig, java: Path, node_id: int, main: str, args: Sequence[str]) -> list[str]:
    return [
        str(java),
        *config.jvm_opts,
        f"-Dlog4j2.configurationFile={config.log4j2_config}",
        f"-Dkafka.logs.dir={config.broker_logs_dir(node_id)}",
        "-cp",
        f"{config.libs_dir}/*",  # the JVM expands the wildcard itself; no shell involved
        main,
        *args,
    ]


def broker_argv(config: StackConfig, java: Path, node_id: int) -> list[str]:
    return java_argv(config, java, node_id, KAFKA_MAIN, [str(config.broker_properties(node_id))])


def broker_log(config: StackConfig, node_id: int) -> Path:
    """stdout/stderr of the JVM (crashes before log4j starts land here)."""
    return config.broker_logs_dir(node_id) / "stdout.log"


def server_log(config: StackConfig, node_id: int) -> Path:
    return config.broker_logs_dir(node_id) / "server.log"


# -- cluster id and storage ------------------------------------------------------------------------


def new_cluster_id() -> str:
    """A Kafka Uuid: 16 random bytes, URL-safe base64 without padding (as StorageTool random-uuid)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):  # Kafka avoids ids that look like command-line flags
            return cid


def load_cluster(config: StackConfig) -> dict[str, object] | None:
    try:
        data: dict[str, object] = json.loads(config.cluster_file.read_text())
    except (OSError, ValueError):
        return None
    return data


def ensure_cluster_id(config: StackConfig, brokers: int) -> str:
    """The cluster id of this state dir, created once; refuses a different cluster size."""
    cluster = load_cluster(config)
    if cluster is not None:
        recorded = int(str(cluster.get("brokers", brokers)))
        if recorded != brokers:
            raise StackError(
                f"the Kafka data in {config.kafka_dir} belongs to a {recorded}-broker cluster, "
                f"not {brokers}; run `corridor stack up --brokers {recorded}`, or "
                "`corridor stack down --purge` to delete that data first"
            )
        return str(cluster["cluster_id"])
    cid = new_cluster_id()
    config.kafka_dir.mkdir(parents=True, exist_ok=True)
    config.cluster_file.write_text(
        json.dumps({"cluster_id": cid, "brokers": brokers, "created_at": time.time()}, indent=2) + "\n"
    )
    return cid


def is_formatted(config: StackConfig, node_id: int) -> bool:
    return (config.broker_data_dir(node_id) / "meta.properties").exists()


def ensure_formatted(
    config: StackConfig, java: Path, cluster_id: str, brokers: int, report: Report
) -> list[int]:
    """Format the storage of every node that has none yet (in parallel: each is a JVM start)."""
    todo = [n for n in config.node_ids(brokers) if not is_formatted(config, n)]
    if not todo:
        return []
    report(f"formatting storage of broker(s) {', '.join(map(str, todo))} (cluster {cluster_id})…")

    def format_node(node_id: int) -> tuple[int, int, Path]:
        log = config.broker_logs_dir(node_id) / "format.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        argv = java_argv(
            config, java, node_id, STORAGE_TOOL,
            ["format", "--cluster-id", cluster_id, "--config", str(config.broker_properties(node_id))],
        )  # fmt: skip
        with log.open("w") as out:
            result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=180)
        return node_id, result.returncode, log

    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        results = list(pool.map(format_node, todo))
    for node_id, code, log in results:
        if code != 0 or not is_formatted(config, node_id):
            raise StackError(f"formatting the storage of broker {node_id} failed (exit {code})", log)
    return todo
