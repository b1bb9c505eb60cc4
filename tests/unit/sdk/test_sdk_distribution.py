"""The partner SDK as its own distribution (docs/adr/0022-partner-sdk-distribution.md), without a broker:

* the modules ``corridor-sdk`` owns (``sdk/pyproject.toml``) import nothing outside that list but the
  SDK's declared dependencies and the standard library — function-level and type-checking imports
  included (the import graph, not one run) — save the key registry's edge to ``corridor.core.db``;
* one version: ``corridor.sdk.__version__``, the server's pin on ``corridor-sdk`` and the changelog;
* the public surface: decoding a record, verifying a certificate, the broker login settings.
"""

from __future__ import annotations

import re
import ssl
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

import corridor.sdk as sdk
from corridor.core.codec import Codec, WireFormatError
from corridor.core.envelope import CloudEvent
from corridor.core.registry_client import RegistryError
from corridor.core.settings import PROJECT_ROOT
from corridor.core.signatures import generate_private_key, public_key_bytes, public_key_pem, sign_event
from corridor.demo.story import chromite_story
from tests.unit.core.test_codec_envelope import InMemoryRegistry

SDK_PYPROJECT = tomllib.loads((PROJECT_ROOT / "sdk" / "pyproject.toml").read_text())
OWNED = SDK_PYPROJECT["tool"]["corridor-sdk"]
#: Import names of the SDK's declared dependencies (and pydantic's own core).
ALLOWED_EXTERNAL = {"aiokafka", "fastavro", "pydantic", "pydantic_core", "httpx", "cryptography", "stdnum"}
#: Edges out of the SDK that are never taken by it: the authority-key registry of
#: corridor.core.signatures works on the caller's PostgreSQL pool (the server's, never a partner's).
#: The registry client's default login reads the server's settings; the wheel has none, and the client
#: then reads CORRIDOR_SCHEMA_REGISTRY_USER_INFO[_FILE] itself (registry_client.default_auth).
EXCEPTIONS = {
    ("corridor.core.signatures", "corridor.core.db"),
    ("corridor.core.signatures", "asyncpg"),
    ("corridor.core.registry_client", "corridor.core.settings"),
}


def owned_modules() -> set[str]:
    graph_names = {m.removesuffix(".__init__") for m in OWNED["modules"]}
    for package in OWNED["packages"]:
        folder = PROJECT_ROOT / "services" / Path(*package.split(".")[1:])
        graph_names |= {package} | {f"{package}.{p.stem}" for p in folder.glob("*.py")}
    graph_names -= {f"{package}.__init__" for package in OWNED["packages"]}
    return graph_names


def test_every_listed_module_exists() -> None:
    for name in OWNED["modules"]:
        path = PROJECT_ROOT / "services" / Path(*name.split(".")[1:])
        assert path.with_suffix(".py").is_file(), name


def test_the_sdk_modules_import_only_the_sdk_and_its_dependencies() -> None:
    graph = grimp.build_graph("corridor", include_external_packages=True)
    owned = owned_modules()
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    outside = {
        (module, imported)
        for module in owned
        for imported in graph.find_modules_directly_imported_by(module)
        if imported not in owned
        and imported.split(".")[0] not in ALLOWED_EXTERNAL | stdlib
        and (module, imported) not in EXCEPTIONS
    }
    assert not outside, f"SDK modules import what corridor-sdk does not ship: {sorted(outside)}"


def test_one_version() -> None:
    server = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert f"corridor-sdk=={sdk.__version__}" in [re.sub(r"\s", "", d) for d in server]
    changelog = (PROJECT_ROOT / "sdk" / "CHANGELOG.md").read_text()
    assert f"\n## {sdk.__version__}\n" in changelog
    assert SDK_PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "corridor.sdk.__version__"}
    assert (PROJECT_ROOT / "services" / "py.typed").is_file()


def test_the_public_surface_is_exported_and_documented() -> None:
    for name in sdk.__all__:
        assert hasattr(sdk, name), name
        assert name in (sdk.__doc__ or ""), f"{name} is exported but not documented in corridor.sdk"
    assert sdk.events.OrderPlaced.avro_name in sdk.EVENT_TYPES


# -- decoding ----------------------------------------------------------------------------------------------


def decoder() -> sdk.EventDecoder:
    made = sdk.EventDecoder("http://127.0.0.1:1")
    registry = InMemoryRegistry()
    made.codec = Codec(registry, auto_register=False)  # type: ignore[arg-type]
    return made


async def test_a_record_decodes_to_its_event_and_cloudevent() -> None:
    event = chromite_story().events[0]
    made = decoder()
    writer = Codec(made.codec.registry)
    value = await writer.encode_async(event)
    headers = [*CloudEvent.for_event(event).to_headers(), ("corridor_relay_backfill", b"true"), ("x", None)]
    decoded = await made.decode(value, headers)
    assert decoded.event == event
    assert decoded.cloudevent.id == str(event.event_id)
    assert decoded.headers["corridor_relay_backfill"] == "true" and "x" not in decoded.headers
    await made.close()


async def test_what_is_not_a_corridor_event_is_named() -> None:
    made = decoder()
    with pytest.raises(WireFormatError, match="magic byte"):
        await made.decode(b"\x01\x00\x00\x00\x01xx", [])
    with pytest.raises(ValueError, match="tombstone"):
        await made.decode(None, [])
    event = chromite_story().events[0]
    value = await Codec(made.codec.registry).encode_async(event)
    with pytest.raises(ValueError, match="ce_id"):
        await made.decode(value, [])


def test_transient_failures_are_the_registrys() -> None:
    assert sdk.is_transient(ConnectionRefusedError())
    assert sdk.is_transient(RegistryError(503, None, "down"))
    assert not sdk.is_transient(RegistryError(404, 40403, "schema not found"))
    assert not sdk.is_transient(WireFormatError("bad"))


# -- certificates ------------------------------------------------------------------------------------------


def certificate() -> sdk.TradeEvent:
    return next(e for e in chromite_story().events if isinstance(e, sdk.events.CertificateIssued))


def test_a_signed_certificate_verifies_with_the_issuers_published_key() -> None:
    event = certificate()
    issuer = event.issuer.party_id  # type: ignore[attr-defined]
    key = generate_private_key()
    for published in (public_key_pem(public_key_bytes(key)).encode(), public_key_bytes(key)):
        authority = sdk.authority_key(issuer, published)
        signed = sign_event(event, key, authority.key_id)
        assert sdk.verify_certificate(signed, [authority]).status == sdk.VerdictStatus.VALID
        assert sdk.verify_certificate(signed, {authority.key_id: authority}).valid

    authority = sdk.authority_key(issuer, public_key_bytes(key))
    signed = sign_event(event, key, authority.key_id)
    tampered = signed.model_copy(update={"trade_id": chromite_story().events[1].event_id})
    assert sdk.verify_certificate(tampered, [authority]).status == "tampered"
    assert sdk.verify_certificate(signed, []).status == "unknown_signer"
    assert sdk.verify_certificate(event, [authority]).status == "unsigned"
    assert sdk.verify_certificate(signed, [authority], certificate_status="REVOKED").status == "revoked"
    other = sdk.authority_key("someone-else", public_key_bytes(key), key_id=authority.key_id)
    assert sdk.verify_certificate(signed, [other]).status == "unknown_signer"
    assert sdk.canonical_bytes(signed) == sdk.canonical_bytes(event)  # the signature is not signed


def test_a_key_that_is_not_ed25519_is_refused() -> None:
    with pytest.raises(ValueError, match="Ed25519"):
        sdk.authority_key("pk-mofa", b"not a key")


# -- broker login ------------------------------------------------------------------------------------------


def test_tls_context_verifies_the_broker() -> None:
    context = sdk.tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    config = sdk.kafka_config(bootstrap="b:9094", username="acme", password="pw", group="acme.erp",
                              ssl_context=context)  # fmt: skip
    assert config["security_protocol"] == "SASL_SSL" and config["sasl_mechanism"] == sdk.SCRAM_MECHANISM
    assert config == sdk.PartnerConsumer.kafka_config(
        bootstrap="b:9094", username="acme", password="pw", group="acme.erp", ssl_context=context
    )
