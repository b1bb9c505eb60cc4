"""deploy/k8s: rendered by kustomize, valid against the Kubernetes schemas (kubeconform) and the operators'
CRD schemas (npm packages, deploy/k8s/crd-check), offline,
and in step with the one source of truth (services/deploy/access.py) that the local stack also uses."""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from typing import Any

import pytest
import yaml

from corridor.core.partners import partner_acls
from corridor.core.routing import partner_topic_spec
from corridor.core.settings import PROJECT_ROOT
from corridor.core.topics import (
    DEFAULT_TRADE_PARTITIONS,
    PARTITIONS_ENV,
    PRODUCTION_TRADE_PARTITIONS,
    TOPIC_SPECS,
)
from corridor.deploy import access, render, validate
from corridor.stack.services import SERVICES

pytestmark = pytest.mark.timeout(900)  # the first run on a machine builds kustomize and kubeconform


@cache
def built(overlay: str) -> tuple[str, tuple[dict[str, Any], ...]]:
    text = validate.kustomize_build(overlay)
    return text, tuple(d for d in yaml.safe_load_all(text) if d)


def of_kind(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in built(overlay)[1] if d["kind"] == kind}


def workloads(overlay: str) -> dict[str, dict[str, Any]]:
    return {**of_kind(overlay, "Deployment"), **of_kind(overlay, "StatefulSet")}


def container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def test_generated_topics_and_users_are_current() -> None:
    assert render.stale_files() == [], "run `corridor deploy render`"


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_every_rendered_manifest_is_valid_offline(overlay: str) -> None:
    text, documents = built(overlay)
    check = validate.check_manifests(text)
    assert check.ok, "\n".join(check.problems)
    assert check.resources == len(documents) > 40
    kinds = {d["kind"] for d in documents if validate._is_custom(d)}
    assert kinds == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Cluster", "ScheduledBackup"}
    assert check.custom == sum(1 for d in documents if d["kind"] in kinds)


def _yaml(*documents: dict[str, Any]) -> str:
    return "".join("---\n" + yaml.safe_dump(d) for d in documents)


def test_kubeconform_refuses_what_the_schemas_refuse() -> None:
    """The validation can fail: an unknown Deployment field and a KafkaTopic with text partitions."""
    _, documents = built("local")
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    topic = next(d for d in documents if d["kind"] == "KafkaTopic")
    bad_deployment = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    bad_topic = {**topic, "spec": {**topic["spec"], "partitions": "six"}}
    check = validate.check_manifests(_yaml(bad_deployment, bad_topic))
    assert not check.ok
    assert any("Invalid: 1" in p and deployment["metadata"]["name"] in p for p in check.problems), check
    name = topic["metadata"]["name"]
    assert f"KafkaTopic {name}: data/spec/partitions must be integer" in check.problems, check


def test_misspelled_fields_of_custom_resources_are_refused() -> None:
    """Strict like kubeconform -strict: an unknown field anywhere in a custom resource is an error,
    while free-form maps (a topic's config, labels) stay free."""
    _, documents = built("production")
    first = {
        kind: next(d for d in documents if d["kind"] == kind) for kind in ("KafkaTopic", "Kafka", "Cluster")
    }
    topic = copy.deepcopy(first["KafkaTopic"])
    topic["spec"]["partitons"] = topic["spec"].pop("partitions")
    topic["spec"]["config"]["no.such.kafka.config"] = "1"  # config is preserve-unknown-fields in the CRD
    kafka = copy.deepcopy(first["Kafka"])
    kafka["spec"]["kafka"]["listeners"][0]["authentcation"] = {"type": "scram-sha-512"}
    cluster = copy.deepcopy(first["Cluster"])
    cluster["spec"]["backup"]["barmanObjectStore"]["destinationPth"] = "s3://x"
    check = validate.check_manifests(_yaml(topic, kafka, cluster))
    assert sorted(check.problems) == sorted(
        [
            f'KafkaTopic {topic["metadata"]["name"]}: /spec: unknown field "partitons"',
            'Kafka corridor: /spec/kafka/listeners/0: unknown field "authentcation"',
            'Cluster corridor-pg: /spec/backup/barmanObjectStore: unknown field "destinationPth"',
        ]
    )


def test_an_unknown_custom_kind_or_version_is_an_error_not_a_skip() -> None:
    _, documents = built("local")
    topic = next(d for d in documents if d["kind"] == "KafkaTopic")
    old = {**topic, "apiVersion": "kafka.strimzi.io/v9"}
    check = validate.check_manifests(_yaml(old))
    assert any("no CRD schema for KafkaTopic kafka.strimzi.io/v9" in p for p in check.problems), check


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_topics_are_the_local_stacks(overlay: str) -> None:
    topics = of_kind(overlay, "KafkaTopic")
    # at the overlay's own count (ADR 0040): the base's default, production's 24
    count = int(of_kind(overlay, "ConfigMap")["corridor-config"]["data"][PARTITIONS_ENV])
    expected = {spec.name: spec for spec in access.backbone_topics(count)}
    assert set(topics) == set(expected)
    assert {s.name for s in TOPIC_SPECS} <= set(topics)  # the trade topics of the local stack
    for name, spec in expected.items():
        got = topics[name]["spec"]
        assert got["topicName"] == name
        assert got["partitions"] == spec.partitions
        assert got["replicas"] == 3
        assert {k: str(v) for k, v in got["config"].items()} == spec.configs_for(3)
        assert topics[name]["metadata"]["labels"]["strimzi.io/cluster"] == render.KAFKA_CLUSTER


def test_partitions_are_the_overlays_choice_for_every_trade_keyed_topic_and_service() -> None:
    """Local keeps the stack's 6, production renders 24 — topics and the services' setting together."""
    for overlay, count in (("local", DEFAULT_TRADE_PARTITIONS), ("production", PRODUCTION_TRADE_PARTITIONS)):
        config = of_kind(overlay, "ConfigMap")["corridor-config"]["data"]
        assert config[PARTITIONS_ENV] == str(count), overlay
        topics = of_kind(overlay, "KafkaTopic")
        keyed = {
            n for n, t in topics.items() if t["metadata"]["labels"].get(render.PARTITIONS_LABEL) == "trade"
        }
        assert keyed == {s.name for s in access.backbone_topics(count) if s.partitions == count}, overlay
        assert {topics[n]["spec"]["partitions"] for n in keyed} == {count}, overlay
        assert {s.name for s in TOPIC_SPECS} | {"trade.accepted.v1", "trade.retry.5s.v1"} <= keyed


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_each_service_is_a_kafka_user_with_exactly_its_acls(overlay: str) -> None:
    users = of_kind(overlay, "KafkaUser")
    assert set(users) == {p.username for p in access.SERVICE_PRINCIPALS}
    for p in access.SERVICE_PRINCIPALS:
        spec = users[p.username]["spec"]
        assert spec["authentication"] == {"type": "scram-sha-512"}
        assert render.bindings_of_rules(p.principal, spec["authorization"]["acls"]) == access.service_acls(
            p.service
        )
    # Nobody may write everywhere or administer the cluster.
    for user in users.values():
        for rule in user["spec"]["authorization"]["acls"]:
            assert "All" not in rule["operations"] and "Alter" not in rule["operations"]
            if rule["resource"]["type"] == "topic" and rule["resource"]["name"] == "*":
                assert set(rule["operations"]) <= {"Read", "Describe"}


def test_a_partners_kafka_user_has_the_acls_the_local_stack_gives() -> None:
    user, topic = render.partner_resources("acme-textiles")
    assert user["kind"] == "KafkaUser" and user["metadata"]["name"] == "acme-textiles"
    assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
    rules = user["spec"]["authorization"]["acls"]
    assert render.bindings_of_rules("User:acme-textiles", rules) == sorted(partner_acls("acme-textiles"))
    spec = partner_topic_spec("acme-textiles")
    assert topic["spec"]["topicName"] == spec.name and topic["spec"]["partitions"] == spec.partitions
    assert topic["spec"]["config"] == spec.configs_for(3)
    with pytest.raises(ValueError, match="invalid partner id"):
        render.partner_resources("Acme_Textiles")


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_services_log_in_as_their_own_users_and_roles(overlay: str) -> None:
    users = of_kind(overlay, "KafkaUser")
    config = of_kind(overlay, "ConfigMap")["corridor-config"]["data"]
    assert config["CORRIDOR_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["CORRIDOR_BOOTSTRAP_SERVERS"] == "corridor-kafka-bootstrap:9093"
    cluster = of_kind(overlay, "Cluster")["corridor-pg"]
    managed = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    for name, workload in workloads(overlay).items():
        service = name.removeprefix("corridor-")
        env = {e["name"]: e for e in container(workload)["env"]}
        assert env["CORRIDOR_DATABASE_URL"]["value"].startswith(
            f"postgresql://corridor_{service}@corridor-pg-rw:"
        )
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"corridor-pg-{service}"
        assert managed[f"corridor_{service}"]["passwordSecret"]["name"] == f"corridor-pg-{service}"
        if service == "registry":  # the registry does not use Kafka
            assert "CORRIDOR_KAFKA_SASL_USERNAME" not in env
            continue
        username = env["CORRIDOR_KAFKA_SASL_USERNAME"]["value"]
        assert username in users
        assert env["CORRIDOR_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": username,
            "key": "password",
        }


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_workloads_are_probed_bounded_non_root_and_covered(overlay: str) -> None:
    health = {s.name: s.ready_path for s in SERVICES}
    pdbs = of_kind(overlay, "PodDisruptionBudget")
    policies = of_kind(overlay, "NetworkPolicy")
    dockerfile = (PROJECT_ROOT / "deploy" / "Dockerfile").read_text()
    uid = int(re.search(r"--uid (\d+)", dockerfile).group(1))  # type: ignore[union-attr]
    assert re.search(r"^USER corridor$", dockerfile, re.M)
    found = workloads(overlay)
    assert set(found) == {f"corridor-{s}" for s in health}
    for name, workload in found.items():
        service = name.removeprefix("corridor-")
        c = container(workload)
        assert c["readinessProbe"]["httpGet"]["path"] == health[service]
        # the registry's only path open without a login is /readyz (ADR 0023)
        assert c["livenessProbe"]["httpGet"]["path"] in {"/healthz", "/readyz"}
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert c["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["runAsUser"] == uid
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        labels = workload["spec"]["template"]["metadata"]["labels"]
        selects = [p for p in pdbs.values() if p["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(selects) == 1, f"{name}: one PodDisruptionBudget"
        own = [
            p for p in policies.values() if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(own) == 1 and own[0]["spec"]["policyTypes"] == ["Ingress", "Egress"], name
    relay = of_kind(overlay, "StatefulSet")["corridor-relay"]
    env = {e["name"]: e for e in container(relay)["env"]}
    assert env["CORRIDOR_RELAY_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    hpa = of_kind(overlay, "HorizontalPodAutoscaler")
    assert [h["spec"]["scaleTargetRef"]["name"] for h in hpa.values()] == ["corridor-gateway"]


def test_network_policies_let_each_service_reach_only_what_it_needs() -> None:
    policies = of_kind("production", "NetworkPolicy")

    def egress_ports(name: str) -> set[int]:
        return {p["port"] for rule in policies[name]["spec"]["egress"] for p in rule["ports"]}

    assert egress_ports("corridor-registry") == {53, 5432}  # no Kafka, no other service
    assert egress_ports("corridor-gateway") == {53, 5432, 9093, 8081}
    assert egress_ports("corridor-webhooks") == {53, 5432, 9093, 8081, 443}  # partners' endpoints
    webhook_out = policies["corridor-webhooks"]["spec"]["egress"][-1]["to"][0]["ipBlock"]
    assert "10.0.0.0/8" in webhook_out["except"]  # no webhook into the cluster's network
    for name in ("corridor-relay", "corridor-monitor", "corridor-webhooks"):
        for rule in policies[name]["spec"]["ingress"]:
            assert rule.get("from"), f"{name} is not open to everyone"


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_kafka_is_kraft_with_three_controllers_and_durable_defaults(overlay: str) -> None:
    pools = of_kind(overlay, "KafkaNodePool")
    controllers = [p for p in pools.values() if p["spec"]["roles"] == ["controller"]]
    brokers = [p for p in pools.values() if "broker" in p["spec"]["roles"]]
    assert sum(p["spec"]["replicas"] for p in controllers) == 3
    assert sum(p["spec"]["replicas"] for p in brokers) >= 3
    kafka = of_kind(overlay, "Kafka")["corridor"]["spec"]["kafka"]
    assert kafka["config"]["default.replication.factor"] == 3 and kafka["config"]["min.insync.replicas"] == 2
    assert kafka["config"]["auto.create.topics.enable"] is False
    assert kafka["authorization"] == {"type": "simple"}
    for listener in kafka["listeners"]:
        assert listener["tls"] is True and listener["authentication"] == {"type": "scram-sha-512"}


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_each_service_has_its_own_postgres_role_as_on_the_laptop(overlay: str) -> None:
    """No shared role (issue 16): the cluster's bootstrap SQL is the local stack's plan
    (services/deploy/database.py) without passwords; the managed roles add LOGIN and the password, keep
    NOINHERIT and join no other role."""
    from corridor.deploy.database import DATABASE_ROLES, cluster_statements

    cluster = of_kind(overlay, "Cluster")["corridor-pg"]["spec"]
    assert cluster["bootstrap"]["initdb"]["postInitApplicationSQL"] == cluster_statements()
    assert "corridor_app" not in json.dumps(cluster)
    managed = {r["name"]: r for r in cluster["managed"]["roles"]}
    assert set(managed) == {r.role for r in DATABASE_ROLES}
    for role in managed.values():
        assert role["login"] is True and role["inherit"] is False and not role.get("inRoles")
        assert not role.get("superuser") and not role.get("createdb") and not role.get("createrole")


def test_postgres_has_replicas_and_backups_in_production() -> None:
    cluster = of_kind("production", "Cluster")["corridor-pg"]["spec"]
    assert cluster["instances"] >= 3
    assert cluster["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    backup = of_kind("production", "ScheduledBackup")["corridor-pg-nightly"]["spec"]
    assert backup["cluster"]["name"] == "corridor-pg" and not backup.get("suspend")


def test_the_operators_pod_is_valid_and_logs_in_as_corridor_ops() -> None:
    text = (PROJECT_ROOT / "deploy" / "k8s" / "tools" / "ops-pod.yaml").read_text()
    pod = yaml.safe_load(text)
    check = validate.check_manifests(text)
    assert check.ok and check.resources == 1, check.problems
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["CORRIDOR_KAFKA_SASL_USERNAME"]["value"] == "corridor-ops"
    assert "ops" in {p.service for p in access.SERVICE_PRINCIPALS}
    assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "corridor"


def test_a_missing_node_or_npm_fails_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    topic = next(d for d in built("local")[1] if d["kind"] == "KafkaTopic")
    monkeypatch.setattr(validate.shutil, "which", lambda name: None)
    with pytest.raises(validate.ToolError, match=r"Node\.js \(`node`\) is needed"):
        validate.check_custom_resources([topic])
