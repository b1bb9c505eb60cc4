"""The stack's CA and broker certificate (services/stack/tls.py, docs/adr/0028-tls-partner-listener.md):
made once, owner-only, re-used, issued again when missing, expiring, re-named or signed by another CA;
what Python's own TLS client accepts from them (a server with the keystore, on loopback)."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from corridor.sdk import tls_context
from corridor.stack import tls

NAMES = tls.broker_names("127.0.0.1")


def leaf(material: tls.BrokerTls) -> x509.Certificate:
    return x509.load_pem_x509_certificates(material.keystore.read_bytes())[0]


def test_issued_once_owner_only_and_reused(tmp_path: Path) -> None:
    material, issued = tls.ensure_broker_tls(tmp_path, NAMES)
    assert issued == ["ca", "broker"]
    folder = tmp_path / "credentials"
    assert {p.name for p in folder.iterdir()} == {"tls-ca.key", "tls-ca.pem", "tls-broker.pem"}
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o600}
    assert folder.stat().st_mode & 0o777 == 0o700
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    again, issued = tls.ensure_broker_tls(tmp_path, NAMES)
    assert issued == [] and again == material
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before

    cert = leaf(material)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost"}
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    ca = x509.load_pem_x509_certificate(material.ca_file.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    cert.verify_directly_issued_by(ca)


def test_issued_again_when_expiring_renamed_missing_or_the_ca_changed(tmp_path: Path) -> None:
    material, _ = tls.ensure_broker_tls(tmp_path, NAMES)
    first = leaf(material)
    # names: a production name added re-issues the broker certificate, the CA stays
    _, issued = tls.ensure_broker_tls(tmp_path, (*NAMES, "partners.corridor.example"))
    assert issued == ["broker"]
    san = leaf(material).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "partners.corridor.example" in san.get_values_for_type(x509.DNSName)
    # expiry: within RENEW_BEFORE of the end, the broker certificate is issued again
    late = first.not_valid_after_utc - tls.RENEW_BEFORE + dt.timedelta(hours=1)
    _, issued = tls.ensure_broker_tls(tmp_path, NAMES, now=late)
    assert issued == ["broker"]
    # a missing broker certificate
    material.keystore.unlink()
    assert tls.ensure_broker_tls(tmp_path, NAMES)[1] == ["broker"]
    # a missing CA key: a new CA, and the broker certificate with it (signed by the new CA)
    (tmp_path / "credentials" / "tls-ca.key").unlink()
    assert tls.ensure_broker_tls(tmp_path, NAMES)[1] == ["ca", "broker"]
    ca = x509.load_pem_x509_certificate(material.ca_file.read_bytes())
    leaf(material).verify_directly_issued_by(ca)


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    material, _ = tls.ensure_broker_tls(tmp_path, NAMES)
    material.keystore.chmod(0o644)
    with pytest.raises(PermissionError, match="readable by others"):
        tls.keystore_properties(material.keystore)


def test_the_keystore_as_inline_properties(tmp_path: Path) -> None:
    material, _ = tls.ensure_broker_tls(tmp_path, NAMES)
    props = tls.keystore_properties(material.keystore)
    assert props["ssl.keystore.type"] == "PEM"
    assert props["ssl.keystore.key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert props["ssl.keystore.key"].endswith("-----END PRIVATE KEY-----")
    assert props["ssl.keystore.certificate.chain"].count("BEGIN CERTIFICATE") == 2


def _serve_once(material: tls.BrokerTls) -> tuple[int, threading.Thread]:
    """A TLS server on loopback presenting the broker certificate, for one handshake."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(material.keystore)  # key and chain in one PEM file, as Kafka reads it
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                try:
                    with server.wrap_socket(conn, server_side=True) as tls_conn:
                        tls_conn.recv(1)
                except (ssl.SSLError, OSError):
                    pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return port, thread


@pytest.mark.parametrize(
    ("name", "trusted", "error"),
    [
        ("127.0.0.1", True, None),
        ("localhost", True, None),
        ("partners.corridor.invalid", True, "Hostname mismatch"),
        ("127.0.0.1", False, "self-signed certificate in certificate chain"),
    ],
)
def test_what_a_verifying_client_accepts(tmp_path: Path, name: str, trusted: bool, error: str | None) -> None:
    material, _ = tls.ensure_broker_tls(tmp_path, NAMES)
    port, thread = _serve_once(material)
    context = tls_context(material.ca_file if trusted else None)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if error is None:
            with context.wrap_socket(sock, server_hostname=name) as conn:
                assert conn.version() in ("TLSv1.2", "TLSv1.3")
                conn.sendall(b"x")
        else:
            with pytest.raises(ssl.SSLCertVerificationError, match=error):
                context.wrap_socket(sock, server_hostname=name)
    thread.join(5)
