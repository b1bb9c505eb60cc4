"""The local stack's certificate authority and the brokers' certificate for the partner listener.

``corridor stack up`` makes, under ``<state dir>/credentials/`` (0700, each file 0600 as every secret
of the stack, docs/adr/0023-application-credentials.md):

* ``tls-ca.key`` / ``tls-ca.pem`` — a certificate authority of this stack alone (ECDSA P-256, ten
  years, ``BasicConstraints(ca=True, path_length=0)``: it signs the broker certificate and nothing
  else). ``tls-ca.pem`` is what a partner trusts; ``corridor partners add`` prints its path.
* ``tls-broker.pem`` — the brokers' key (PKCS#8, unencrypted: the file is 0600) followed by their
  certificate and the CA's, the PEM keystore Kafka reads (``ssl.keystore.type=PEM``,
  ``ssl.keystore.location``). Subject alternative names: ``localhost``, ``127.0.0.1``, ``::1``, the
  stack's host, and every name of ``CORRIDOR_BROKER_TLS_NAMES`` (the name partners dial in
  production), so hostname verification works; one certificate serves every node of the stack.

Invariants: both are re-used across ``up`` while valid for at least :data:`RENEW_BEFORE` and, for the
broker certificate, signed by the current CA with the wanted names; otherwise they are issued again
(a missing or expiring CA takes a new broker certificate with it, and partners must trust the new
``tls-ca.pem``). Keys are written 0600 before any byte of them is (``credentials.write_secret``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from corridor.core import credentials

CA_KEY = "tls-ca.key"
CA_CERT = "tls-ca.pem"
BROKER_KEYSTORE = "tls-broker.pem"
#: Names every local broker certificate carries: what clients on this machine dial.
LOCAL_NAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")
CA_LIFETIME = dt.timedelta(days=3650)
BROKER_LIFETIME = dt.timedelta(days=397)  # the longest a public TLS server certificate may live
#: A certificate that expires sooner than this is issued again by ``stack up``.
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class BrokerTls:
    """Where a stack's TLS material is: the CA partners trust and the brokers' PEM keystore."""

    ca_file: Path
    keystore: Path
    names: tuple[str, ...]


def ca_file(state_dir: Path) -> Path:
    return credentials.credentials_dir(state_dir) / CA_CERT


def keystore_file(state_dir: Path) -> Path:
    return credentials.credentials_dir(state_dir) / BROKER_KEYSTORE


def keystore_properties(keystore: Path) -> dict[str, str]:
    """The keystore as inline PEM settings (``ssl.keystore.key``, ``ssl.keystore.certificate.chain``):
    for a broker that cannot read the file itself (a container whose user does not own it)."""
    text = credentials.read_secret(keystore)
    key_end = text.index("-----END PRIVATE KEY-----") + len("-----END PRIVATE KEY-----")
    return {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.key": text[:key_end].strip(),
        "ssl.keystore.certificate.chain": text[key_end:].strip(),
    }


def broker_names(host: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The subject alternative names of the broker certificate: local names, the host, ``extra``."""
    names: list[str] = []
    for name in (*LOCAL_NAMES, host, *extra):
        name = name.strip().lower()
        if name and name not in names:
            names.append(name)
    return tuple(names)


def ensure_broker_tls(
    state_dir: Path, names: Iterable[str], now: dt.datetime | None = None
) -> tuple[BrokerTls, list[str]]:
    """The stack's CA and broker keystore, issued where missing, expiring, or (broker) not matching
    ``names`` / the CA. Returns the paths and what was issued (``["ca", "broker"]``, ``[]``)."""
    return ensure_tls_files(credentials.credentials_dir(state_dir), names, now)


def ensure_tls_files(
    folder: Path, names: Iterable[str], now: dt.datetime | None = None
) -> tuple[BrokerTls, list[str]]:
    """:func:`ensure_broker_tls` in any credentials folder (compose's ``deploy/credentials``)."""
    now = now or dt.datetime.now(dt.UTC)
    wanted = tuple(names)
    issued: list[str] = []
    ca = _load_ca(folder, now)
    if ca is None:
        ca = _issue_ca(folder, now)
        issued.append("ca")
    ca_key, ca_cert = ca
    keystore = folder / BROKER_KEYSTORE
    if issued or not _broker_current(keystore, ca_cert, wanted, now):
        _issue_broker(keystore, ca_key, ca_cert, wanted, now)
        issued.append("broker")
    return BrokerTls(ca_file=folder / CA_CERT, keystore=keystore, names=wanted), issued


def _fresh(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > RENEW_BEFORE


def _load_ca(folder: Path, now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    try:
        key = serialization.load_pem_private_key(
            credentials.read_secret(folder / CA_KEY).encode(), password=None
        )
        cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.public_key() != key.public_key():
        return None
    return (key, cert) if _fresh(cert, now) else None


def _issue_ca(folder: Path, now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Corridor"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Corridor stack CA {now:%Y-%m-%d}"),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    credentials.write_secret(folder / CA_KEY, _key_pem(key))
    # The certificate is public, but it lives among the secrets and is written the same way.
    credentials.write_secret(folder / CA_CERT, cert.public_bytes(serialization.Encoding.PEM).decode())
    return key, cert


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _broker_current(
    keystore: Path, ca_cert: x509.Certificate, names: tuple[str, ...], now: dt.datetime
) -> bool:
    try:
        text = credentials.read_secret(keystore).encode()
        cert = x509.load_pem_x509_certificates(text)[0]
        key = serialization.load_pem_private_key(text, password=None)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, IndexError, x509.ExtensionNotFound):
        return False
    return (
        _fresh(cert, now)
        and cert.public_key() == key.public_key()
        and cert.issuer == ca_cert.subject
        and _verifies(cert, ca_cert)
        and set(san) == set(_san(names))
    )


def _verifies(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, Exception):  # InvalidSignature has no common base but Exception
        return False
    return True


def _issue_broker(
    keystore: Path,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    names: tuple[str, ...],
    now: dt.datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Corridor"),
                    x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "localhost"),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + BROKER_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    # Kafka's PEM keystore: the private key (PKCS#8), then the chain from the leaf to the CA.
    credentials.write_secret(
        keystore, _key_pem(key) + cert.public_bytes(pem).decode() + ca_cert.public_bytes(pem).decode()
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
