"""deploy/compose.yaml loads as Docker Compose v2 would load it (compose-go, no daemon), and creates the
topics of services/deploy/access.py at replication 3 (tests/unit/stack/test_stack_compose.py compares
its brokers with the local stack's)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from corridor.core.partners import SCRAM_MECHANISM
from corridor.core.settings import PROJECT_ROOT
from corridor.deploy.database import DATABASE_ROLES, compose_credentials, provision_statements
from corridor.deploy.render import compose_topic_commands
from corridor.deploy.validate import compose_config
from corridor.stack.config import STANDARD_AUTHORIZER

pytestmark = pytest.mark.timeout(900)  # the first run on a machine builds composecheck

COMPOSE = PROJECT_ROOT / "deploy" / "compose.yaml"


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    # the env files of the passwords (gitignored), made as an operator makes them before the first `up`
    compose_credentials(COMPOSE.parent / "credentials")
    done = compose_config(COMPOSE)
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def test_the_loader_refuses_what_compose_would_refuse(tmp_path: Path) -> None:
    text = COMPOSE.read_text()
    compose_credentials(tmp_path / "credentials")
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace("condition: service_completed_successfully", "condition: finished"))
    done = compose_config(broken)
    assert done.returncode == 1 and ".condition value must be one of" in done.stderr
    broken.write_text(
        text.replace(
            "      registry:\n        condition: service_healthy",
            "      regsitry:\n        condition: service_healthy",
            1,
        )
    )
    done = compose_config(broken)
    assert done.returncode == 1 and "regsitry" in done.stderr


def test_three_brokers_with_the_partner_listener_and_the_authorizer(model: dict[str, Any]) -> None:
    """As the local stack (ADR 24, 28): every listener authenticates, nobody is anonymous, the super
    users are the brokers and the operator, the partner listener speaks SCRAM over TLS."""
    nodes = {
        name: s for name, s in model["services"].items() if name.startswith("kafka-") and name != "kafka-init"
    }
    nodes.pop("kafka-principals")
    assert sorted(nodes) == ["kafka-1", "kafka-2", "kafka-3"]
    for service in nodes.values():
        env = service["environment"]
        assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == STANDARD_AUTHORIZER
        assert env["KAFKA_SUPER_USERS"] == "User:corridor-broker;User:corridor-operator"
        assert "ANONYMOUS" not in json.dumps(env)
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
        assert set(protocols) == {"INTERNAL", "CONTROLLER", "PARTNER", "DOCKER"}
        assert not [name for name, p in protocols.items() if not p.startswith("SASL_")], protocols
        assert protocols["PARTNER"] == "SASL_SSL"
        assert env["KAFKA_LISTENER_NAME_PARTNER_SASL_ENABLED_MECHANISMS"] == SCRAM_MECHANISM
        # the brokers' own PLAIN login on every non-partner listener, the keystore inline (env file)
        for name in ("INTERNAL", "DOCKER", "CONTROLLER"):
            jaas = env[f"KAFKA_LISTENER_NAME_{name}_PLAIN_SASL_JAAS_CONFIG"]
            assert 'username="corridor-broker"' in jaas and "PlainLoginModule" in jaas
        assert env["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"] == "PLAIN"
        assert env["KAFKA_SASL_MECHANISM_CONTROLLER_PROTOCOL"] == "PLAIN"
        assert env["KAFKA_LISTENER_NAME_PARTNER_SSL_KEYSTORE_TYPE"] == "PEM"
        assert env["KAFKA_LISTENER_NAME_PARTNER_SSL_KEYSTORE_KEY"].startswith(
            "-----BEGIN PRIVATE KEY-----\\n"
        )
        chain = env["KAFKA_LISTENER_NAME_PARTNER_SSL_KEYSTORE_CERTIFICATE_CHAIN"]
        assert chain.count("-----BEGIN CERTIFICATE-----") == 2  # the broker's, then the CA's
        assert "corridor-health.properties" in " ".join(service["healthcheck"]["test"])  # logged in
        # Every published port is on the loopback address.
        assert all(p["host_ip"] == "127.0.0.1" for p in service["ports"])


def test_the_partner_certificate_names_what_partners_dial(tmp_path: Path) -> None:
    """compose-credentials issues the CA and broker certificate with the stack's code: the published
    partner ports are dialled as 127.0.0.1/localhost, which the certificate names."""
    from cryptography import x509

    compose_credentials(tmp_path)
    env = (tmp_path / "kafka-broker.env").read_text()
    line = next(x for x in env.splitlines() if x.startswith("KAFKA_LISTENER_NAME_PARTNER_SSL_KEYSTORE_CERT"))
    chain = line.split("=", 1)[1].strip("'").replace("\\n", "\n").encode()
    leaf, ca = x509.load_pem_x509_certificates(chain)
    assert ca.subject == x509.load_pem_x509_certificate((tmp_path / "tls-ca.pem").read_bytes()).subject
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}


def test_every_service_logs_in_to_kafka_as_itself(model: dict[str, Any]) -> None:
    """No container reaches Kafka anonymously: each Kafka-using service is its own SCRAM principal with
    only its own password; the registry (schemas in PostgreSQL) has no Kafka login; the principals job
    stores every one of them with the ACLs of services/deploy/access.py."""
    from corridor.deploy.access import SERVICE_PRINCIPALS
    from corridor.deploy.compose_kafka import password_env

    services = model["services"]
    job = services["kafka-principals"]
    assert job["command"] == ["python", "-m", "corridor.deploy.compose_kafka"]
    assert job["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    passwords = {p.username: job["environment"][password_env(p.username)] for p in SERVICE_PRINCIPALS}
    assert job["environment"][password_env("corridor-operator")]
    assert len(set(passwords.values())) == len(passwords)
    for principal in SERVICE_PRINCIPALS:
        if principal.service == "ops":
            continue  # the operator's CLI runs on the host
        env = services[principal.service]["environment"]
        assert env["CORRIDOR_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["CORRIDOR_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["CORRIDOR_KAFKA_SASL_USERNAME"] == principal.username
        assert env["CORRIDOR_KAFKA_SASL_PASSWORD"] == passwords[principal.username]
        assert not (set(passwords.values()) - {passwords[principal.username]}) & set(env.values())
        assert env["CORRIDOR_SCHEMA_REGISTRY_USER_INFO"].startswith("services:")  # the read role
    assert services["registry"]["environment"]["CORRIDOR_KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"
    assert services["registry"]["environment"]["CORRIDOR_REGISTRY_USERS_FILE"]
    assert services["monitor"]["environment"]["CORRIDOR_MONITOR_TOKEN"]
    assert services["webhooks"]["environment"]["CORRIDOR_WEBHOOKS_SECRETS_KEY"]
    for name in ("gateway", "ledger", "relay", "registry"):  # the dashboard token and the key stay put
        env = services[name]["environment"]
        assert "CORRIDOR_MONITOR_TOKEN" not in env and "CORRIDOR_WEBHOOKS_SECRETS_KEY" not in env, name
    for name in ("kafka-principals", "registry-users"):
        assert services["registry"]["depends_on"][name]["condition"] == "service_completed_successfully"


def test_kafka_init_creates_exactly_the_backbones_topics(model: dict[str, Any]) -> None:
    script = model["services"]["kafka-init"]["command"][0]
    lines = [line.strip() for line in script.splitlines() if line.strip().startswith("create ")]
    assert lines == compose_topic_commands()
    assert all(shlex.split(line) for line in lines)


def test_no_service_publishes_beyond_the_loopback_address(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        for port in service.get("ports") or ():
            assert port["host_ip"] == "127.0.0.1", name


def test_postgres_wants_a_password_from_every_login(model: dict[str, Any]) -> None:
    """No trust (ADR 25): SCRAM-SHA-256 for local and host logins, the superuser's password from its
    owner-only env file."""
    postgres = model["services"]["postgres"]
    env = postgres["environment"]
    assert env["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert env["POSTGRES_INITDB_ARGS"] == "--auth-local=scram-sha-256 --auth-host=scram-sha-256"
    assert env["POSTGRES_PASSWORD"]  # from deploy/credentials/postgres.env
    assert "trust" not in json.dumps(postgres)


def test_each_service_logs_in_as_its_own_role(model: dict[str, Any]) -> None:
    """db-init provisions the roles with the project's code; each service has its role's URL and only
    its own password (the env file of another service is not given to it)."""
    db_init = model["services"]["db-init"]
    assert db_init["command"] == ["python", "-m", "corridor.deploy.database"]
    assert db_init["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert urlsplit(db_init["environment"]["CORRIDOR_DATABASE_URL"]).username == "postgres"
    assert model["services"]["registry"]["depends_on"]["db-init"]["condition"] == (
        "service_completed_successfully"
    )
    passwords = {r.service: db_init["environment"][r.password_env()] for r in DATABASE_ROLES}
    assert len(set(passwords.values())) == len(passwords)
    for role in DATABASE_ROLES:
        env = model["services"][role.service]["environment"]
        url = urlsplit(env["CORRIDOR_DATABASE_URL"])
        assert (url.username, url.hostname, url.password) == (role.role, "postgres", None)
        assert env["PGPASSWORD"] == passwords[role.service]
        others = set(passwords.values()) - {passwords[role.service]}
        assert not others & set(env.values()), role.service


def test_compose_credentials_are_owner_only_and_kept(tmp_path: Path) -> None:
    first = {p.name: p.read_text() for p in compose_credentials(tmp_path)}
    assert {p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {0o600}
    assert {p.name: p.read_text() for p in compose_credentials(tmp_path)} == first  # rerun: same passwords
    gateway = first["gateway.env"].splitlines()
    assert [line.split("=", 1)[0] for line in gateway] == [
        "PGPASSWORD", "CORRIDOR_KAFKA_SASL_PASSWORD", "CORRIDOR_SCHEMA_REGISTRY_USER_INFO",
    ]  # fmt: skip


def test_the_provisioning_confines_every_role() -> None:
    """The statements: no role is a superuser or may create databases or roles; the monitor is read-only;
    PUBLIC loses its default rights on the database and ``public``."""
    statements = provision_statements("corridor", {r.service: f"pw-{r.service}" for r in DATABASE_ROLES})
    assert statements[:2] == [
        'REVOKE ALL ON DATABASE "corridor" FROM PUBLIC',
        "REVOKE ALL ON SCHEMA public FROM PUBLIC",
    ]
    for role in DATABASE_ROLES:
        alter = next(s for s in statements if s.startswith(f'ALTER ROLE "{role.role}" WITH'))
        assert "NOSUPERUSER NOCREATEDB NOCREATEROLE" in alter
        assert f"PASSWORD 'pw-{role.service}'" in alter
    assert (
        'ALTER ROLE "corridor_monitor" IN DATABASE "corridor" SET default_transaction_read_only = on'
        in statements
    )
    grants = [s for s in statements if s.startswith("GRANT") and "ON DATABASE" not in s]
    assert not any("corridor_monitor" in s and "SELECT" not in s and "USAGE" not in s for s in grants)
