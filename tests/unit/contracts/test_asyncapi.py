"""contracts/asyncapi.yaml is a well-formed AsyncAPI 3.0.0 document and says exactly what the code does:
its channels are the trade topics, its messages the event types, its publisher roles ``roles.py``."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
from jsonschema import Draft7Validator
from jsonschema.exceptions import SchemaError

from corridor.core import contracts
from corridor.core.contracts import (
    ASYNCAPI_PATH,
    AVRO_SCHEMA_FORMAT,
    PUBLISHER_ROLES_KEY,
    channel_messages,
    deref,
    is_planned,
    iter_refs,
    load_asyncapi,
    ref_path,
    resolve_ref,
)
from corridor.core.domain.events import EVENT_TYPES, PartyRole
from corridor.core.domain.roles import PUBLISHER_ROLES
from corridor.core.envelope import CONTENT_TYPE, REQUIRED_HEADERS
from corridor.core.schemas import catalog
from corridor.core.topics import TOPIC_SPECS, TRADE_TOPICS

DOC = load_asyncapi()
MESSAGES = channel_messages(DOC)
COMPONENT_NAME = re.compile(r"^[a-zA-Z0-9.\-_]+$")


def _trade_channels() -> dict[str, dict[str, Any]]:
    return {cid: ch for cid, ch in DOC["channels"].items() if not is_planned(ch) and cid != "partnerFeed"}


# -- the document as AsyncAPI 3.0.0 --------------------------------------------------------------------


def test_is_an_asyncapi_3_document() -> None:
    assert DOC["asyncapi"] == "3.0.0"
    assert DOC["info"]["title"] and DOC["info"]["version"]
    assert DOC["defaultContentType"] == CONTENT_TYPE
    description = DOC["info"]["description"]
    for must in ("TopicRecordNameStrategy", "<topic>-<record full name>", "BACKWARD_TRANSITIVE", "registry"):
        assert must in description


def test_every_ref_resolves() -> None:
    refs = list(iter_refs(DOC))
    assert len(refs) > 50
    files = set()
    for where, ref in refs:
        try:
            target = resolve_ref(DOC, ref)
        except contracts.ContractError as exc:
            pytest.fail(f"{where}: {exc}")
        assert target is not None, f"{where}: {ref} resolves to nothing"
        if not ref.startswith("#"):
            files.add(ref_path(ref))
            assert isinstance(target, dict) and target.get("type") == "record", f"{where}: {ref}"
    assert files == {contracts.payload_path(event).resolve() for event in catalog().events.values()}


def test_payload_schemas_are_the_registered_schemas_and_up_to_date() -> None:
    """Every payload file stands alone (no named type it does not define) and is the schema registered
    for its subject: same Parsing Canonical Form as ``EventSchema.schema``."""
    from fastavro.schema import parse_schema, to_parsing_canonical_form

    assert not contracts.stale_payloads(), "run `corridor schemas docs`"
    for event in catalog().events.values():
        standalone = json.loads(contracts.payload_path(event).read_text(encoding="utf-8"))
        parsed = parse_schema(standalone, named_schemas={})  # raises on an undefined type name
        assert to_parsing_canonical_form(parsed) == to_parsing_canonical_form(parse_schema(event.schema))


def test_write_payloads_regenerates_and_prunes(tmp_path: Any) -> None:
    stray = tmp_path / "orders" / "Gone.avsc"
    stray.parent.mkdir(parents=True)
    stray.write_text("{}", encoding="utf-8")
    written = contracts.write_payloads(tmp_path)
    assert stray in written and not stray.exists()
    assert len(written) == len(catalog().events) + 1
    assert contracts.stale_payloads(tmp_path) == []
    assert contracts.write_payloads(tmp_path) == []


# Fixed fields of the AsyncAPI 3.0.0 objects and Kafka bindings 0.5.0 this document uses; anything else
# must be a specification extension (x-…). Catches misspelt keys that tools would silently ignore.
_FIELDS: dict[str, set[str]] = {
    "root": {
        "asyncapi",
        "id",
        "info",
        "servers",
        "defaultContentType",
        "channels",
        "operations",
        "components",
    },
    "info": {
        "title",
        "version",
        "description",
        "termsOfService",
        "contact",
        "license",
        "tags",
        "externalDocs",
    },
    "server": {
        "host",
        "protocol",
        "protocolVersion",
        "pathname",
        "description",
        "title",
        "summary",
        "variables",
        "security",
        "tags",
        "externalDocs",
        "bindings",
    },
    "serverVariable": {"enum", "default", "description", "examples"},
    "channel": {
        "address",
        "messages",
        "title",
        "summary",
        "description",
        "servers",
        "parameters",
        "tags",
        "externalDocs",
        "bindings",
    },
    "parameter": {"enum", "default", "description", "examples", "location"},
    "operation": {
        "action",
        "channel",
        "title",
        "summary",
        "description",
        "security",
        "tags",
        "externalDocs",
        "bindings",
        "traits",
        "messages",
        "reply",
    },
    "message": {
        "headers",
        "payload",
        "correlationId",
        "contentType",
        "name",
        "title",
        "summary",
        "description",
        "tags",
        "externalDocs",
        "bindings",
        "examples",
        "traits",
    },
    "messageTrait": {
        "headers",
        "correlationId",
        "contentType",
        "name",
        "title",
        "summary",
        "description",
        "tags",
        "externalDocs",
        "bindings",
        "examples",
    },
    "multiFormatSchema": {"schemaFormat", "schema"},
    "correlationId": {"description", "location"},
    "securityScheme": {"type", "description", "name", "in", "scheme", "bearerFormat", "flows", "scopes"},
    "tag": {"name", "description", "externalDocs"},
    "components": {
        "schemas",
        "servers",
        "channels",
        "operations",
        "messages",
        "securitySchemes",
        "serverVariables",
        "parameters",
        "correlationIds",
        "replies",
        "replyAddresses",
        "externalDocs",
        "tags",
        "operationTraits",
        "messageTraits",
        "serverBindings",
        "channelBindings",
        "operationBindings",
        "messageBindings",
    },
    "kafkaServer": {"schemaRegistryUrl", "schemaRegistryVendor", "bindingVersion"},
    "kafkaChannel": {"topic", "partitions", "replicas", "topicConfiguration", "bindingVersion"},
    "kafkaOperation": {"groupId", "clientId", "bindingVersion"},
    "kafkaMessage": {
        "key",
        "schemaIdLocation",
        "schemaIdPayloadEncoding",
        "schemaLookupStrategy",
        "bindingVersion",
    },
}
_REQUIRED: dict[str, set[str]] = {
    "root": {"asyncapi", "info"},
    "info": {"title", "version"},
    "server": {"host", "protocol"},
    "operation": {"action", "channel"},
    "multiFormatSchema": {"schemaFormat", "schema"},
    "correlationId": {"location"},
    "securityScheme": {"type"},
    "tag": {"name"},
}


def _check(kind: str, node: Any, where: str, problems: list[str]) -> None:
    if isinstance(node, dict) and set(node) == {"$ref"}:
        return  # a Reference Object, checked by test_every_ref_resolves
    if not isinstance(node, dict):
        problems.append(f"{where}: {kind} must be an object")
        return
    unknown = {k for k in node if k not in _FIELDS[kind] and not k.startswith("x-")}
    if unknown:
        problems.append(f"{where}: {kind} has unknown fields {sorted(unknown)}")
    missing = _REQUIRED.get(kind, set()) - set(node)
    if missing:
        problems.append(f"{where}: {kind} lacks {sorted(missing)}")
    for tag in node.get("tags", []):
        _check("tag", tag, f"{where}/tags", problems)


def _check_kafka(kind: str, bindings: Any, where: str, problems: list[str]) -> None:
    bindings = deref(DOC, bindings)
    assert set(bindings) == {"kafka"}, f"{where}: only kafka bindings are declared"
    _check(kind, bindings["kafka"], f"{where}/kafka", problems)
    assert bindings["kafka"]["bindingVersion"] == "0.5.0", where


def test_objects_carry_only_asyncapi_3_fields() -> None:
    problems: list[str] = []
    _check("root", DOC, "#", problems)
    _check("info", DOC["info"], "#/info", problems)
    for sid, server in DOC["servers"].items():
        _check("server", server, f"#/servers/{sid}", problems)
        for vid, var in server.get("variables", {}).items():
            _check("serverVariable", var, f"#/servers/{sid}/variables/{vid}", problems)
        _check_kafka("kafkaServer", server["bindings"], f"#/servers/{sid}/bindings", problems)
    for cid, channel in DOC["channels"].items():
        assert COMPONENT_NAME.match(cid), cid
        _check("channel", channel, f"#/channels/{cid}", problems)
        for pid, param in channel.get("parameters", {}).items():
            _check("parameter", param, f"#/channels/{cid}/parameters/{pid}", problems)
        if "bindings" in channel:
            _check_kafka("kafkaChannel", channel["bindings"], f"#/channels/{cid}/bindings", problems)
    for oid, op in DOC["operations"].items():
        assert COMPONENT_NAME.match(oid), oid
        _check("operation", op, f"#/operations/{oid}", problems)
        if "bindings" in op:
            _check_kafka("kafkaOperation", op["bindings"], f"#/operations/{oid}/bindings", problems)
    components = DOC["components"]
    _check("components", components, "#/components", problems)
    for section in components.values():
        assert all(COMPONENT_NAME.match(name) for name in section), section
    for mid, message in components["messages"].items():
        _check("message", message, f"#/components/messages/{mid}", problems)
        _check("multiFormatSchema", message["payload"], f"#/components/messages/{mid}/payload", problems)
        _check_kafka("kafkaMessage", message["bindings"], f"#/components/messages/{mid}/bindings", problems)
    for tid, trait in components["messageTraits"].items():
        _check("messageTrait", trait, f"#/components/messageTraits/{tid}", problems)
    for cid, corr in components["correlationIds"].items():
        _check("correlationId", corr, f"#/components/correlationIds/{cid}", problems)
        assert re.fullmatch(r"\$message\.(header|payload)#(/[^/]+)*", corr["location"]), corr["location"]
    for sid, scheme in components["securitySchemes"].items():
        _check("securityScheme", scheme, f"#/components/securitySchemes/{sid}", problems)
    assert not problems, "\n".join(problems)


def test_operations_reference_their_channels_messages() -> None:
    for oid, op in DOC["operations"].items():
        assert op["action"] in ("send", "receive"), oid
        channel_ref = op["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/"), oid
        for ref in op.get("messages", []):
            # AsyncAPI 3: an operation's messages are a subset of its channel's messages
            assert ref["$ref"].startswith(channel_ref + "/messages/"), f"{oid}: {ref}"
            resolve_ref(DOC, ref["$ref"])


def test_channel_addresses_declare_their_parameters() -> None:
    for cid, channel in DOC["channels"].items():
        in_address = set(re.findall(r"\{([^}]+)\}", channel["address"]))
        assert in_address == set(channel.get("parameters", {})), cid
        for server in channel.get("servers", []):
            assert server["$ref"].startswith("#/servers/"), cid


def test_embedded_json_schemas_are_valid_json_schema() -> None:
    schemas: list[tuple[str, dict[str, Any]]] = []
    for tid, trait in DOC["components"]["messageTraits"].items():
        schemas.append((f"messageTraits/{tid}/headers", trait["headers"]))
    for bid, binding in DOC["components"]["messageBindings"].items():
        schemas.append((f"messageBindings/{bid}/kafka/key", binding["kafka"]["key"]))
    for bid, binding in DOC["components"]["operationBindings"].items():
        schemas.append((f"operationBindings/{bid}/kafka/groupId", binding["kafka"]["groupId"]))
    assert len(schemas) >= 4
    for where, schema in schemas:
        try:
            Draft7Validator.check_schema(schema)
        except SchemaError as exc:
            pytest.fail(f"{where}: {exc.message}")


# -- channels = topics ---------------------------------------------------------------------------------


def test_channels_are_the_trade_topics() -> None:
    addresses = [ch["address"] for ch in _trade_channels().values()]
    assert sorted(addresses) == sorted(TRADE_TOPICS)
    assert len(addresses) == len(set(addresses))


@pytest.mark.parametrize("spec", TOPIC_SPECS, ids=lambda s: s.name)
def test_channel_bindings_match_topic_specs(spec: Any) -> None:
    channel = next(ch for ch in _trade_channels().values() if ch["address"] == spec.name)
    kafka = channel["bindings"]["kafka"]
    assert kafka["topic"] == spec.name
    assert kafka["partitions"] == spec.partitions == 6
    assert kafka["replicas"] == spec.replication_factor(1)  # the local stack, one broker
    larger = kafka["x-corridor-replication"]
    assert larger["replicas"] == spec.replication_factor(larger["brokers"])
    assert str(larger["min.insync.replicas"]) == spec.configs_for(larger["brokers"])["min.insync.replicas"]

    def as_config(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, list):
            return ",".join(value)
        return str(value)

    declared = {k: as_config(v) for k, v in kafka["topicConfiguration"].items()}
    assert declared == spec.configs_for(1)
    assert isinstance(kafka["topicConfiguration"]["cleanup.policy"], list)  # binding 0.5.0: array


def test_partner_feed_channel_is_the_relays_partner_topic() -> None:
    from corridor.core.routing import PARTNER_TOPIC_CONFIGS, PARTNER_TOPIC_PARTITIONS, partner_topic

    assert not [cid for cid, ch in DOC["channels"].items() if is_planned(ch)], "nothing is planned any more"
    channel = DOC["channels"]["partnerFeed"]
    assert channel["address"].replace("{partnerId}", "acme") == partner_topic("acme")
    assert {s["$ref"] for s in channel["servers"]} == {"#/servers/partners"}
    # every event type reaches a partner's feed (the relay copies every trade topic)
    feed = {deref(DOC, m)["x-corridor-ce-type"] for m in channel["messages"].values()}
    assert feed == set(catalog().events), "partnerFeed lists every event type's message"
    kafka = channel["bindings"]["kafka"]
    assert kafka["partitions"] == PARTNER_TOPIC_PARTITIONS
    declared = {
        k: ",".join(v) if isinstance(v, list) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in kafka["topicConfiguration"].items()
    }
    assert declared == {**PARTNER_TOPIC_CONFIGS, "min.insync.replicas": "1"}
    [receive] = [op for op in DOC["operations"].values() if op["channel"]["$ref"] == "#/channels/partnerFeed"]
    group = deref(DOC, receive["bindings"])["kafka"]
    assert group["x-corridor-group-prefix"] == "{partnerId}."
    Draft7Validator(group["groupId"]).validate("zhob-valley-chromite.erp")
    assert not Draft7Validator(group["groupId"]).is_valid("erp")


# -- messages = event types ----------------------------------------------------------------------------


def test_messages_are_exactly_the_event_types() -> None:
    in_contract = [m.event.full_name for m in MESSAGES]
    assert len(in_contract) == len(set(in_contract)), "an event type is on two channels"
    assert set(in_contract) == set(catalog().events) == set(EVENT_TYPES)
    assert set(DOC["components"]["messages"]) == {m.key for m in MESSAGES}, "unused component messages"


@pytest.mark.parametrize("m", MESSAGES, ids=lambda m: m.event.name)
def test_message_describes_its_event_type(m: contracts.ContractMessage) -> None:
    event, message = m.event, m.message
    assert m.address == event.topic
    assert m.key == message["name"] == event.name
    assert message["title"] and message["description"]
    assert " ".join(message["summary"].split()) == event.schema["doc"], "summary is the schema's doc"
    assert message["contentType"] == CONTENT_TYPE
    assert message["x-corridor-ce-type"] == event.ce_type == event.full_name
    # payload: the .avsc by reference, path relative to the document
    payload = message["payload"]
    assert payload["schemaFormat"] == AVRO_SCHEMA_FORMAT
    # the self-contained payload schema generated from schemas/ (contracts/avro/<area>/<Name>.avsc)
    expected_ref = os.path.relpath(contracts.payload_path(event), ASYNCAPI_PATH.parent).replace(os.sep, "/")
    assert payload["schema"]["$ref"] == expected_ref == f"avro/{event.area}/{event.name}.avsc"
    # key and headers
    correlation = deref(DOC, message["correlationId"])
    assert correlation["location"] == "$message.payload#/trade_id"
    kafka = deref(DOC, message["bindings"])["kafka"]
    assert kafka["key"]["type"] == "string" and kafka["key"]["format"] == "uuid"
    assert kafka["schemaLookupStrategy"] == "TopicRecordNameStrategy"
    assert kafka["schemaIdLocation"] == "payload"
    traits = [deref(DOC, t) for t in message["traits"]]
    headers = {h for t in traits for h in t["headers"]["properties"]}
    assert {"ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject"} <= headers
    assert {"content-type", "traceparent"} <= headers
    example = ASYNCAPI_PATH.parent / message["x-corridor-example"]
    assert example.is_file() and example.stem == event.name


def test_cloudevents_header_trait() -> None:
    trait = DOC["components"]["messageTraits"]["cloudEventsBinary"]
    headers = trait["headers"]
    assert headers["type"] == "object"
    assert (
        set(headers["required"])
        == set(headers["properties"])
        == {
            *REQUIRED_HEADERS,
            "traceparent",
        }
    )
    assert headers["properties"]["ce_specversion"]["const"] == "1.0"
    assert headers["properties"]["content-type"]["const"] == CONTENT_TYPE
    ce_type = re.compile(headers["properties"]["ce_type"]["pattern"])
    assert all(ce_type.match(name) for name in EVENT_TYPES)


# -- who sends, who receives ---------------------------------------------------------------------------


def test_message_publisher_roles_are_roles_py() -> None:
    declared = {m.event.full_name: frozenset(m.publisher_roles) for m in MESSAGES}
    assert declared == PUBLISHER_ROLES
    assert set(PUBLISHER_ROLES) == set(EVENT_TYPES)
    for roles in PUBLISHER_ROLES.values():
        assert roles and roles <= set(PartyRole) - {PartyRole.OPERATOR}


def test_send_operations_cover_every_message_with_its_roles() -> None:
    by_type: dict[str, set[str]] = {}
    for oid, op in DOC["operations"].items():
        if op["action"] != "send":
            continue
        roles = set(op[PUBLISHER_ROLES_KEY])
        assert roles and op["messages"], oid
        for role in roles:
            assert f"**{role}**" in op["description"], f"{oid}: the description names {role}"
        for ref in op["messages"]:
            message = deref(DOC, ref)
            full_name = message["x-corridor-ce-type"]
            assert roles == PUBLISHER_ROLES[full_name], f"{oid}: {full_name}"
            by_type.setdefault(full_name, set()).update(roles)
    assert by_type == {k: set(v) for k, v in PUBLISHER_ROLES.items()}


def test_services_receive_every_trade_channel() -> None:
    from corridor.ledger.settings import DEFAULT_GROUP_ID as LEDGER_GROUP
    from corridor.relay.settings import DEFAULT_GROUP_ID as RELAY_GROUP

    groups: dict[str, set[str]] = {}
    for oid, op in DOC["operations"].items():
        if op["action"] != "receive" or op["channel"]["$ref"] == "#/channels/partnerFeed":
            continue
        assert not is_planned(op) and "planned" not in op["description"].lower(), oid
        group = deref(DOC, op["bindings"])["kafka"]["groupId"]
        Draft7Validator(group).validate(group["enum"][0])
        assert "messages" not in op, f"{oid}: receives every message of its channel"
        channel = deref(DOC, op["channel"])
        groups.setdefault(group["enum"][0], set()).add(channel["address"])
    assert groups == {LEDGER_GROUP: set(TRADE_TOPICS), RELAY_GROUP: set(TRADE_TOPICS)}


def test_servers_local_and_partners() -> None:
    local, partners = DOC["servers"]["local"], DOC["servers"]["partners"]
    assert (local["host"], local["protocol"]) == ("127.0.0.1:9092", "kafka")
    assert "security" not in local
    [scheme_ref] = partners["security"]
    scheme = deref(DOC, scheme_ref)
    assert scheme["type"] == "scramSha512"
    assert "later release" not in scheme["description"] and "later release" not in partners["description"]
    # the partner listener speaks TLS (SASL_SSL), so the protocol is AsyncAPI's kafka-secure
    from corridor.stack.config import PARTNER_LISTENER, SCRAM_MECHANISM

    assert PARTNER_LISTENER.security_protocol == "SASL_SSL" and partners["protocol"] == "kafka-secure"
    assert "SASL_SSL" in partners["description"] and "SASL_PLAINTEXT" not in partners["description"]
    assert scheme["type"] == "scram" + SCRAM_MECHANISM.split("-", 1)[1].replace("-", "").title()
    local_port, partner_port = int(local["host"].rsplit(":", 1)[1]), int(partners["host"].rsplit(":", 1)[1])
    assert partner_port - local_port == PARTNER_LISTENER.port_offset
    assert scheme_ref["$ref"].startswith("#/components/securitySchemes/")
    for var in re.findall(r"\{([^}]+)\}", partners["host"]):
        assert var in partners["variables"]
    for channel in _trade_channels().values():
        assert {s["$ref"] for s in channel["servers"]} == {"#/servers/local", "#/servers/partners"}
