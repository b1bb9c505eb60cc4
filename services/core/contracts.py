"""The partner contract under ``contracts/``: the AsyncAPI document, its example messages, the
self-contained Avro payload schemas and the Markdown reference generated from both plus the Avro schemas
(``corridor schemas docs``).

Payloads (docs/adr/0019-contracts-partners-generate-from.md): every message of the AsyncAPI document
references ``contracts/avro/<area>/<Name>.avsc``, the event's schema with every shared type expanded in
place — byte for byte the JSON the registry holds for the subject (``EventSchema.schema``), generated from
``schemas/`` and never edited. So a tool that reads the document alone (the AsyncAPI parser, a model
generator) sees complete types, and the files in ``schemas/`` stay the single source of truth.

Pure and offline: reading YAML/JSON files and writing Markdown and JSON files. The checks that hold the
contract to the code (channels = topics, messages = event types, publisher roles = ``roles.py``,
examples validate and round-trip) live in ``tests/unit/contracts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from corridor.core.schemas import EventSchema, SchemaCatalog, catalog
from corridor.core.settings import PROJECT_ROOT

CONTRACTS_DIR = PROJECT_ROOT / "contracts"
ASYNCAPI_PATH = CONTRACTS_DIR / "asyncapi.yaml"
EXAMPLES_DIR = CONTRACTS_DIR / "examples"
REFERENCE_PATH = CONTRACTS_DIR / "reference.md"
#: The generated, self-contained payload schemas the AsyncAPI messages reference.
PAYLOADS_DIR = CONTRACTS_DIR / "avro"

AVRO_SCHEMA_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
PUBLISHER_ROLES_KEY = "x-corridor-publisher-roles"
STATUS_KEY = "x-corridor-status"


class ContractError(ValueError):
    """The AsyncAPI document or an example is malformed or points at something that does not exist."""


# -- the AsyncAPI document -----------------------------------------------------------------------------


def load_asyncapi(path: Path = ASYNCAPI_PATH) -> dict[str, Any]:
    import yaml  # a dev dependency: the contract tooling is not needed by the services at run time

    with path.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    if not isinstance(doc, dict):
        raise ContractError(f"{path}: not a YAML mapping")
    return doc


def iter_refs(node: Any, pointer: str = "#") -> Iterator[tuple[str, str]]:
    """Every ``$ref`` in a document as (JSON pointer of the referencing object, reference)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield pointer, ref
        for key, value in node.items():
            yield from iter_refs(value, f"{pointer}/{_escape(str(key))}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from iter_refs(value, f"{pointer}/{i}")


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def resolve_pointer(doc: Any, pointer: str) -> Any:
    """The node a local JSON pointer (``#/components/messages/OrderPlaced``) designates."""
    if not pointer.startswith("#"):
        raise ContractError(f"{pointer!r} is not a local reference")
    node = doc
    for raw in filter(None, pointer[1:].split("/")):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise ContractError(f"{pointer}: no {token!r} there")
    return node


def resolve_ref(doc: dict[str, Any], ref: str, base: Path = ASYNCAPI_PATH) -> Any:
    """A reference's target: a node of ``doc`` (``#/…``) or a JSON file relative to ``base`` (``../x.avsc``,
    optionally with a ``#/pointer`` into it)."""
    if ref.startswith("#"):
        return resolve_pointer(doc, ref)
    file_part, _, fragment = ref.partition("#")
    path = ref_path(ref, base)
    if not path.is_file():
        raise ContractError(f"{ref}: no file {path}")
    try:
        target = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ContractError(f"{file_part}: not JSON: {exc}") from exc
    return resolve_pointer(target, "#" + fragment) if fragment else target


def ref_path(ref: str, base: Path = ASYNCAPI_PATH) -> Path:
    """The file a non-local reference points at, resolved against the document's folder."""
    return (base.parent / ref.partition("#")[0]).resolve()


def deref(doc: dict[str, Any], node: Any) -> Any:
    """The node itself, or what it references when it is a ``{"$ref": …}`` object (one level)."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#"):
        node = resolve_pointer(doc, node["$ref"])
    return node


def is_planned(node: dict[str, Any]) -> bool:
    return node.get(STATUS_KEY) == "planned"


@dataclass(frozen=True)
class ContractMessage:
    """One message of a channel, with the event type its payload is."""

    key: str  # the message id within its channel and under components/messages
    channel: str  # channel id
    address: str  # the Kafka topic
    message: dict[str, Any]  # the dereferenced Message Object
    event: EventSchema

    @property
    def publisher_roles(self) -> list[str]:
        return list(self.message.get(PUBLISHER_ROLES_KEY, []))


def channel_messages(
    doc: dict[str, Any], schemas: SchemaCatalog | None = None, base: Path = ASYNCAPI_PATH
) -> list[ContractMessage]:
    """The messages of every trade channel, each matched to the event type whose ``.avsc`` its payload is.

    A channel with parameters (the partner feed ``partner.{partnerId}.v1``) re-carries the trade
    channels' messages and is left out, so each event type appears once.
    """
    schemas = schemas or catalog()
    by_path = {payload_path(event).resolve(): event for event in schemas.events.values()}
    out = []
    for channel_id, channel in (doc.get("channels") or {}).items():
        if channel.get("parameters"):
            continue
        for key, raw in (channel.get("messages") or {}).items():
            message = deref(doc, raw)
            ref = ((message.get("payload") or {}).get("schema") or {}).get("$ref", "")
            event = by_path.get(ref_path(ref, base)) if ref else None
            if event is None:
                where = f"channels/{channel_id}/messages/{key}"
                raise ContractError(f"{where}: payload {ref!r} is not an event schema")
            out.append(ContractMessage(key, channel_id, channel["address"], message, event))
    return out


# -- self-contained payload schemas -------------------------------------------------------------------


def payload_path(event: EventSchema, folder: Path | None = None) -> Path:
    """Where the expanded schema of an event type lives: ``contracts/avro/<area>/<Name>.avsc``."""
    return (folder or PAYLOADS_DIR) / event.area / f"{event.name}.avsc"


def render_payload(event: EventSchema) -> str:
    """The expanded schema as the registry holds it (``EventSchema.schema``), indented for reading, with
    each named type's full name written as ``name`` + ``namespace`` (the same Avro schema: the Parsing
    Canonical Form is unchanged; AsyncAPI's Avro schema definition only accepts simple names)."""
    return json.dumps(_split_names(event.schema), indent=2, ensure_ascii=False) + "\n"


def _split_names(node: Any) -> Any:
    if isinstance(node, list):
        return [_split_names(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _split_names(value) for key, value in node.items()}
    name = out.get("name")
    if out.get("type") in ("record", "enum", "fixed") and isinstance(name, str) and "." in name:
        out["namespace"], _, out["name"] = name.rpartition(".")
    # a fixed key order (the expanded form's order varies between processes): the usual Avro order first
    ranked = {key: i for i, key in enumerate(_KEY_ORDER)}
    return {key: out[key] for key in sorted(out, key=lambda k: (ranked.get(k, len(ranked)), k))}


_KEY_ORDER = (
    "name",
    "namespace",
    "type",
    "logicalType",
    "doc",
    "default",
    "symbols",
    "items",
    "values",
    "fields",
)


def write_payloads(folder: Path | None = None, schemas: SchemaCatalog | None = None) -> list[Path]:
    """Regenerate every payload schema (and delete those of event types that no longer exist); returns
    the files written or deleted."""
    folder = folder or PAYLOADS_DIR
    schemas = schemas or catalog()
    changed: list[Path] = []
    wanted = {payload_path(event, folder): render_payload(event) for event in schemas.events.values()}
    for path, text in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for path in sorted(folder.rglob("*.avsc")) if folder.exists() else []:
        if path not in wanted:
            path.unlink()
            changed.append(path)
    return changed


def stale_payloads(folder: Path | None = None, schemas: SchemaCatalog | None = None) -> list[str]:
    """What ``write_payloads`` would change, as messages (empty when the files are up to date)."""
    folder = folder or PAYLOADS_DIR
    schemas = schemas or catalog()
    problems = []
    wanted = {payload_path(event, folder): event for event in schemas.events.values()}
    for path, event in wanted.items():
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != render_payload(event):
            problems.append(f"{path}: differs from the expanded schema of {event.full_name}")
    for path in sorted(folder.rglob("*.avsc")) if folder.exists() else []:
        if path not in wanted:
            problems.append(f"{path}: no event type has this schema")
    return problems


# -- examples ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """An example message: ``valid/<EventName>.json`` or ``invalid/<case>.json``."""

    path: Path
    type: str
    key: str
    headers: dict[str, str]
    data: dict[str, Any]
    description: str = ""
    expected_errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def valid(self) -> bool:
        return self.path.parent.name == "valid"


def load_examples(kind: str, folder: Path = EXAMPLES_DIR) -> list[Example]:
    """The examples of one kind (``valid`` or ``invalid``), sorted by file name."""
    examples = []
    for path in sorted((folder / kind).glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        try:
            examples.append(
                Example(
                    path=path,
                    type=raw["type"],
                    key=raw["key"],
                    headers=raw["headers"],
                    data=raw["data"],
                    description=raw.get("description", ""),
                    expected_errors=raw.get("expected_errors", []),
                )
            )
        except KeyError as exc:
            raise ContractError(f"{path}: missing {exc.args[0]!r}") from None
    return examples


# -- the Markdown reference ----------------------------------------------------------------------------

_GENERATED = (
    "<!-- Generated by `corridor schemas docs` from contracts/asyncapi.yaml and schemas/*.avsc. "
    "Do not edit: change those and regenerate. -->"
)


def _cell(text: Any) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _anchor(title: str) -> str:
    """The anchor GitHub-flavoured Markdown gives a heading (for headings of letters, digits, spaces)."""
    kept = "".join(ch for ch in title.lower() if ch.isalnum() or ch in " -_")
    return "#" + kept.replace(" ", "-")


def _short(full_name: str) -> str:
    return full_name.rsplit(".", 1)[-1]


def _ref_name(ref: str) -> str:
    """The last token of a local reference: ``#/components/messages/OrderPlaced`` → ``OrderPlaced``."""
    return ref.rsplit("/", 1)[-1]


class _Types:
    """Named Avro types met while rendering events, each documented once under "Types"."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self.used_by: dict[str, list[str]] = {}

    def collect(self, schema: Any, event: str) -> None:
        if isinstance(schema, list):
            for branch in schema:
                self.collect(branch, event)
        elif isinstance(schema, str) and schema in self.defs:
            self._use(schema, event)
        elif isinstance(schema, dict):
            kind = schema.get("type")
            if kind in ("record", "enum", "fixed"):
                name = schema["name"]
                first = name not in self.defs
                if first:
                    self.defs[name] = schema
                    shorts = [n for n in self.defs if _short(n) == _short(name)]
                    if len(shorts) > 1:
                        raise ContractError(f"two named types are both called {_short(name)!r}: {shorts}")
                self._use(name, event)
                if kind == "record":
                    for f in schema["fields"]:
                        self.collect(f["type"], event)
            elif kind == "array":
                self.collect(schema["items"], event)
            elif kind == "map":
                self.collect(schema["values"], event)

    def _use(self, name: str, event: str) -> None:
        users = self.used_by.setdefault(name, [])
        if event not in users:
            users.append(event)


def _inline_definitions(schemas: SchemaCatalog) -> dict[str, list[Path]]:
    """Named types defined inside an event's ``.avsc`` (not in a file of their own) → those files."""
    found: dict[str, list[Path]] = {}

    def walk(node: Any, namespace: str, path: Path) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, namespace, path)
        elif isinstance(node, dict):
            if node.get("type") in ("record", "enum", "fixed") and "name" in node:
                name = node["name"]
                namespace = node.get("namespace", namespace) if "." not in name else name.rsplit(".", 1)[0]
                full = name if "." in name else f"{namespace}.{name}"
                if path not in found.setdefault(full, []):
                    found[full].append(path)
                for f in node.get("fields", []):
                    walk(f["type"], namespace, path)
            elif node.get("type") in ("array", "map"):
                walk(node.get("items", node.get("values")), namespace, path)
            elif isinstance(node.get("type"), (dict, list)):
                walk(node["type"], namespace, path)

    for event in schemas.events.values():
        for f in schemas.named[event.full_name]["fields"]:
            walk(f["type"], schemas.named[event.full_name].get("namespace", ""), event.path)
    return found


def avro_type(schema: Any) -> str:
    """An Avro type as Markdown: primitives in code, named types as links to their section."""
    if isinstance(schema, list):
        return " \\| ".join(avro_type(branch) for branch in schema)
    if isinstance(schema, str):
        if "." in schema:
            return f"[{_short(schema)}]({_anchor(_short(schema))})"
        return f"`{schema}`"
    kind = schema["type"]
    if kind in ("record", "enum", "fixed"):
        return avro_type(schema["name"])
    if kind == "array":
        return f"array of {avro_type(schema['items'])}"
    if kind == "map":
        return f"map of {avro_type(schema['values'])}"
    logical = schema.get("logicalType")
    if logical == "decimal":
        return f"`{kind}` decimal({schema['precision']}, {schema.get('scale', 0)})"
    if logical:
        return f"`{kind}` {logical}"
    return avro_type(kind)


def _field_rows(record: dict[str, Any]) -> list[str]:
    rows = [
        "| field | Avro type | required | format | description |",
        "|---|---|---|---|---|",
    ]
    for f in record["fields"]:
        if "default" in f:
            presence = f"optional (default `{json.dumps(f['default'], ensure_ascii=False)}`)"
        else:
            presence = "required"
        fmt = f"`{f['corridor.format']}`" if f.get("corridor.format") else ""
        rows.append(
            f"| `{f['name']}` | {avro_type(f['type'])} | {presence} | {fmt} | {_cell(f.get('doc', ''))} |"
        )
    return rows


def _topic_config(binding: dict[str, Any]) -> str:
    parts = []
    for key, value in (binding.get("topicConfiguration") or {}).items():
        if isinstance(value, list):
            value = ",".join(map(str, value))
        elif isinstance(value, bool):
            value = str(value).lower()
        parts.append(f"`{key}={value}`")
    return ", ".join(parts)


def _rel(path: Path) -> str:
    """A path relative to contracts/, for links from reference.md."""
    try:
        return path.resolve().relative_to(CONTRACTS_DIR.resolve()).as_posix()
    except ValueError:
        return "../" + path.resolve().relative_to(PROJECT_ROOT.resolve()).as_posix()


def _roles(roles: list[str]) -> str:
    return ", ".join(f"`{r}`" for r in roles)


def render_reference(doc: dict[str, Any] | None = None, schemas: SchemaCatalog | None = None) -> str:
    """The Markdown reference of the contract (deterministic: same inputs, same text)."""
    doc = doc if doc is not None else load_asyncapi()
    schemas = schemas or catalog()
    info = doc["info"]
    messages = channel_messages(doc, schemas)
    components = doc.get("components", {})
    out: list[str] = [
        f"# {info['title']} — contract reference",
        "",
        _GENERATED,
        "",
        f"AsyncAPI {doc['asyncapi']} · contract version {info['version']} · source "
        f"[asyncapi.yaml](asyncapi.yaml) · examples [examples/](examples/)",
        "",
        info.get("description", "").strip(),
        "",
        "## Servers",
        "",
        "| server | host | protocol | security | description |",
        "|---|---|---|---|---|",
    ]
    for server_id, server in (doc.get("servers") or {}).items():
        security = ", ".join(
            f"`{_ref_name(s['$ref'])}` ({deref(doc, s).get('type', '')})" if "$ref" in s else str(s)
            for s in server.get("security", [])
        )
        out.append(
            f"| `{server_id}` | `{server['host']}` | {server['protocol']} | {security or 'none'} | "
            f"{_cell(server.get('description', ''))} |"
        )

    # channels
    out += ["", "## Channels", ""]
    for channel_id, channel in (doc.get("channels") or {}).items():
        title = channel.get("title", channel_id)
        out += [f"### `{channel['address']}` — {title}", "", channel.get("description", "").strip(), ""]
        kafka = (channel.get("bindings") or {}).get("kafka")
        if kafka:
            larger = kafka.get("x-corridor-replication") or {}
            scaled = (
                f" (with {larger['brokers']} or more brokers: {larger['replicas']} replicas, "
                f"`min.insync.replicas={larger['min.insync.replicas']}`)"
                if larger
                else ""
            )
            out += [
                f"Kafka on the local stack: {kafka.get('partitions')} partitions, {kafka.get('replicas')} "
                f"replica(s){scaled}; {_topic_config(kafka)}.",
                "",
            ]
        for name, param in (channel.get("parameters") or {}).items():
            out += [f"Parameter `{name}`: {_cell(param.get('description', ''))}", ""]
        mine = [m for m in messages if m.channel == channel_id]
        if mine:
            out += [
                "Key: the trade id (see [Key](#key)); headers: CloudEvents binary mode (see "
                "[Headers](#headers)).",
                "",
                "| message | `ce_type` | registry subject | published by |",
                "|---|---|---|---|",
            ]
            out += [
                f"| [{m.event.name}]({_anchor(m.event.name)}) | `{m.event.ce_type}` | `{m.event.subject}` | "
                f"{_roles(m.publisher_roles)} |"
                for m in mine
            ]
            out.append("")
        receivers = [
            (op_id, op)
            for op_id, op in (doc.get("operations") or {}).items()
            if op["action"] == "receive" and op["channel"]["$ref"] == f"#/channels/{channel_id}"
        ]
        for op_id, op in receivers:
            group = _group_id(doc, op)
            planned = " (planned)" if is_planned(op) else ""
            out.append(f"- Received by `{op_id}`{planned}: consumer group `{group}`.")
        if receivers:
            out.append("")

    # operations
    out += [
        "## Operations",
        "",
        "| operation | action | channel | publisher roles / consumer group | messages | status |",
        "|---|---|---|---|---|---|",
    ]
    for op_id, op in (doc.get("operations") or {}).items():
        channel = deref(doc, op["channel"])
        who = _roles(op.get(PUBLISHER_ROLES_KEY, [])) or f"group `{_group_id(doc, op)}`"
        names = [_ref_name(ref["$ref"]) for ref in op.get("messages", [])] or ["every message of the channel"]
        out.append(
            f"| `{op_id}` | {op['action']} | `{channel['address']}` | {who} | {', '.join(names)} | "
            f"{op.get(STATUS_KEY, 'current')} |"
        )

    # key and headers
    key_binding = _message_binding(doc, messages)
    correlation: dict[str, Any] = next(iter(components.get("correlationIds", {}).values()), {})
    out += [
        "",
        "## Key",
        "",
        f"Type `{key_binding.get('type')}` ({key_binding.get('format', '')}): "
        f"{_cell(key_binding.get('description', ''))} Correlation id: `{correlation.get('location', '')}` — "
        f"{_cell(correlation.get('description', ''))}",
        "",
        "## Headers",
        "",
    ]
    for trait in components.get("messageTraits", {}).values():
        headers = trait.get("headers", {})
        required = set(headers.get("required", []))
        out += [
            f"{trait.get('title', '')}: {_cell(trait.get('description', ''))}",
            "",
            "| header | required | value | description |",
            "|---|---|---|---|",
        ]
        for name, prop in headers.get("properties", {}).items():
            value = (
                f"`{prop['const']}`"
                if "const" in prop
                else f"`{prop.get('type', '')}`"
                + (f" {prop['format']}" if "format" in prop else "")
                + (f", pattern `{prop['pattern']}`" if "pattern" in prop else "")
            )
            out.append(
                f"| `{name}` | {'yes' if name in required else 'no'} | {_cell(value)} | "
                f"{_cell(prop.get('description', ''))} |"
            )
        out.append("")

    # event types
    types = _Types()
    out += ["## Event types", ""]
    for m in messages:
        event = m.event
        example = m.message.get("x-corridor-example")
        links = f"schema [{_rel(event.path)}]({_rel(event.path)})"
        if example:
            links += f" · example [{example}]({example})"
        out += [
            f"### {event.name}",
            "",
            f"`{event.ce_type}` on `{event.topic}` · subject `{event.subject}` · published by "
            f"{_roles(m.publisher_roles)} · {links}",
            "",
            _cell(event.schema.get("doc", "")),
            "",
        ]
        if m.message.get("description"):
            out += [_cell(m.message["description"]), ""]
        out += [*_field_rows(event.schema), ""]
        for f in event.schema["fields"]:
            types.collect(f["type"], event.name)

    # named types, each once
    out += ["## Types", "", "Records and enums the event types use, each documented once.", ""]
    inline = _inline_definitions(schemas)
    for name, schema in types.defs.items():
        files = [schemas.files[name]] if name in schemas.files else inline.get(name, [])
        where = ", ".join(f"[{_rel(f)}]({_rel(f)})" for f in files) or "an event schema"
        users = ", ".join(f"[{u}]({_anchor(u)})" for u in types.used_by[name])
        out += [
            f"### {_short(name)}",
            "",
            f"`{name}` · {schema['type']} · defined in {where} · used by {users}",
            "",
            _cell(schema.get("doc", "")),
            "",
        ]
        if schema["type"] == "record":
            out += [*_field_rows(schema), ""]
        elif schema["type"] == "enum":
            out += ["Symbols: " + ", ".join(f"`{s}`" for s in schema["symbols"]), ""]
    return "\n".join(out).rstrip() + "\n"


def _group_id(doc: dict[str, Any], op: dict[str, Any]) -> str:
    kafka = (deref(doc, op.get("bindings") or {}) or {}).get("kafka") or {}
    group = kafka.get("groupId") or {}
    values = group.get("enum") or ([group["const"]] if "const" in group else [])
    if not values and kafka.get("x-corridor-group-prefix"):
        values = [kafka["x-corridor-group-prefix"] + "*"]
    return ", ".join(values)


def _message_binding(doc: dict[str, Any], messages: list[ContractMessage]) -> dict[str, Any]:
    for m in messages:
        kafka = (deref(doc, m.message.get("bindings") or {}) or {}).get("kafka") or {}
        if kafka.get("key"):
            return cast(dict[str, Any], kafka["key"])
    return {}


def write_reference(path: Path | None = None) -> bool:
    """Regenerate ``contracts/reference.md`` (or ``path``); True when its content changed."""
    path = path or REFERENCE_PATH
    text = render_reference()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True
