"""``corridor certificates``: sign certificate events, verify them, and manage issuing authorities' keys.

``sign`` and ``verify --file`` work on an event as JSON: a bare event (its fields), or a document with
``type`` and ``data`` (CloudEvents structured mode, or a file of contracts/examples/). ``verify NUMBER``
checks the certificate as the ledger stored it. Keys live in ``<partners schema>.authority_keys`` of
``CORRIDOR_DATABASE_URL`` (else the local stack's PostgreSQL); the ledger's tables in the schema
``CORRIDOR_LEDGER_DB_SCHEMA`` (default ``ledger``). See docs/adr/0013-signed-certificates.md.

``verify`` exits with status 0 only when the verdict is ``valid``.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from corridor.cli.output import JsonGroup
from corridor.core.domain.roles import PUBLISHER_ROLES

T = TypeVar("T")

_CERTIFICATE_TYPES = {
    "CertificateIssued": "corridor.trade.certificates.CertificateIssued",
    "CertificateAmended": "corridor.trade.certificates.CertificateAmended",
}


def _ledger_schema() -> str:
    return os.environ.get("CORRIDOR_LEDGER_DB_SCHEMA", "ledger")


def _run(operation: Callable[[Any, str], Awaitable[T]]) -> T:
    """``operation(pool, partners schema)`` as ``corridor partners`` runs its own (same database, same
    schema), after making sure the keys table exists."""
    from corridor.cli.partners import _run as run_on_partners
    from corridor.core import signatures

    async def with_keys(pool: Any, schema: str) -> T:
        await signatures.ensure_schema(pool, schema=schema)
        return await operation(pool, schema)

    try:
        return run_on_partners(with_keys)
    except signatures.SignatureError as exc:
        raise click.ClickException(str(exc)) from None


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


# -- event files ---------------------------------------------------------------------------------------


def _read_event(path: Path, *, intake: bool = True) -> tuple[Any, dict[str, Any], bool]:
    """(the event, the file's JSON, whether the event sits under ``data``). ``intake=False`` (verifying a
    certificate issued earlier) reads it as stored events are read: the rules added since it was issued
    and the code lists' editions are not held against it (ADR 0032, ADR 0033)."""
    from pydantic import ValidationError

    from corridor.core.domain.events import EVENT_TYPES
    from corridor.core.domain.validation import InvalidEvent, field_errors, parse_event

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise click.ClickException(f"{path}: expected a JSON object")
    wrapped = isinstance(raw.get("data"), dict) and "type" in raw
    data = raw["data"] if wrapped else raw
    if wrapped:
        event_type = str(raw["type"])
    else:
        event_type = _CERTIFICATE_TYPES[
            "CertificateAmended" if "supersedes_certificate_number" in data else "CertificateIssued"
        ]
    if event_type.rsplit(".", 1)[-1] not in _CERTIFICATE_TYPES:
        raise click.ClickException(
            f"{path}: {event_type} is not a certificate event that carries a signature"
        )
    try:
        if intake:
            return parse_event(event_type, data), raw, wrapped
        model = EVENT_TYPES[event_type if "." in event_type else _CERTIFICATE_TYPES[event_type]]
        try:
            return model.model_validate(data), raw, wrapped
        except ValidationError as exc:
            raise InvalidEvent(model.avro_name, field_errors(exc)) from None
    except InvalidEvent as exc:
        raise click.ClickException(f"{path}: {exc}") from None


@click.group(cls=JsonGroup)
def certificates() -> None:
    """Signed certificates: sign, verify, and the issuing authorities' public keys."""


@certificates.command("sign")
@click.argument("event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The issuer's Ed25519 private key (PKCS #8 PEM, as `keys add --generate` writes it).",
)
@click.option("--key-id", help="Key id to name in the signature (default: <issuer>-<key fingerprint>).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of standard output."
)
def sign(event_file: Path, key_file: Path, key_id: str | None, out: Path | None) -> None:
    """Sign the certificate event in EVENT_FILE with the issuer's key; print it with its signature."""
    from corridor.core import signatures

    event, raw, wrapped = _read_event(event_file)
    try:
        private_key = signatures.load_private_key(key_file.read_bytes())
        key_id = key_id or signatures.default_key_id(
            event.issuer.party_id, signatures.public_key_bytes(private_key)
        )
        signed = signatures.sign_event(event, private_key, key_id)
    except signatures.SignatureError as exc:
        raise click.ClickException(str(exc)) from None
    data = signed.model_dump(mode="json")
    document = {**raw, "data": data} if wrapped else data
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"signed {event.certificate_number} with key {key_id}: {out}", err=True)


@certificates.command("verify")
@click.argument("number", required=False)
@click.option(
    "--file",
    "event_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Verify the certificate event in this JSON file instead of the ledger's copy.",
)
@click.option(
    "--issuer",
    help="Partner id of the issuing authority: numbers are unique per issuer only (ADR 0033).",
)
@click.option("--trade-id", help="The trade, when certificates of several trades share the number.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify(
    number: str | None, event_file: Path | None, issuer: str | None, trade_id: str | None, as_json: bool
) -> None:
    """Check the issuer's signature on certificate NUMBER (as the ledger stored it) or on --file.

    The verdict is valid, tampered, unknown_signer, revoked, superseded or unsigned; revoked and
    superseded also come from the certificate's status in the ledger. Exit status 0 only when valid."""
    import asyncpg

    from corridor.core import signatures
    from corridor.ledger import certificates as ledger_certificates
    from corridor.ledger.store import LedgerStore

    if (number is None) == (event_file is None):
        raise click.UsageError("give a certificate NUMBER or --file EVENT_FILE")
    event = _read_event(event_file, intake=False)[0] if event_file is not None else None
    try:
        tid = uuid.UUID(trade_id) if trade_id else (event.trade_id if event is not None else None)
    except ValueError:
        raise click.BadParameter(f"{trade_id!r} is not a trade id (UUID)", param_hint="--trade-id") from None
    wanted = number or (event.certificate_number if event is not None else None)
    if issuer is None and event is not None:
        issuer = event.issuer.party_id  # type: ignore[attr-defined]

    async def check(pool: Any, schema: str) -> list[dict[str, Any]]:
        keyring = await signatures.load_keyring(pool, schema=schema)
        store = LedgerStore(pool, _ledger_schema())
        try:
            found = await ledger_certificates.check(
                store, keyring, wanted, issuer=issuer, trade_id=tid, event=event
            )
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as exc:
            if event is None:
                reason = (
                    "no ledger tables"
                    if isinstance(exc, asyncpg.UndefinedTableError)
                    else "the ledger's tables predate signed certificates (a current ledger migrates them)"
                )
                raise click.ClickException(
                    f"{reason} in schema {store.schema!r} (CORRIDOR_LEDGER_DB_SCHEMA)"
                ) from None
            found = []
        if found:
            return [c.to_dict() for c in found]
        if event is not None:  # a certificate the ledger does not know: its signature alone
            return [signatures.verify_event(event, keyring).to_dict()]
        raise click.ClickException(f"the ledger has no certificate {wanted}")

    results = _run(check)
    if len(results) > 1 and len({r["issuer"] for r in results}) > 1:
        issuers = ", ".join(sorted({r["issuer"] for r in results}))
        raise click.ClickException(
            f"certificates of several issuers are numbered {wanted} ({issuers}): name one with --issuer"
        )
    if len(results) > 1:
        trades = ", ".join(r["trade_id"] for r in results)
        raise click.ClickException(
            f"certificates of several trades are numbered {wanted} ({trades} …): name one with --trade-id"
        )
    (result,) = results
    if as_json:
        _echo_json(result)
    else:
        click.echo(f"{result['certificate_number']}: {result['verdict'].upper()} — {result['reason']}")
        if result.get("status"):
            click.echo(
                f"  trade {result['trade_id']}, issuer {result['issuer']}, status {result['status']}, "
                f"verdict when the ledger took it in: {result['recorded_verdict'] or 'none'}"
            )
    if result["verdict"] != signatures.VerdictStatus.VALID:
        sys.exit(1)


# -- keys ----------------------------------------------------------------------------------------------


@certificates.group("keys")
def keys() -> None:
    """Issuing authorities' Ed25519 public keys (table authority_keys in the partners' schema)."""


#: Roles that issue certificates (``roles.PUBLISHER_ROLES`` of CertificateIssued): only they sign.
SIGNING_ROLES = PUBLISHER_ROLES["corridor.trade.certificates.CertificateIssued"]


def _default_private_key_path(key_id: str) -> Path:
    """``./<key id>.pem`` in the user's directory, unless that is inside this project's repository: a
    private key lands there only when asked for with ``--private-key-out`` (it is not git-ignored)."""
    from corridor.core.settings import PROJECT_ROOT

    here = Path.cwd().resolve()
    if here == PROJECT_ROOT or PROJECT_ROOT in here.parents:
        raise click.UsageError(
            f"not writing a private key into the repository ({here}); run this from your own directory "
            "or give --private-key-out PATH"
        )
    return here / f"{key_id}.pem"


def _write_private_key(path: Path, pem: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; not overwriting a private key") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


@keys.command("add")
@click.argument("partner_id")
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The authority's public key: PEM, 32 raw bytes, or those in base64.",
)
@click.option(
    "--generate", is_flag=True, help="Make a new key pair; the private key goes to --private-key-out."
)
@click.option(
    "--private-key-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --generate: where to write the private key, created with mode 0600 (default "
    "./<key id>.pem in the current directory, which must not be inside the repository).",
)
@click.option("--key-id", help="Key id (default: <partner>-<first 8 hex digits of the key's SHA-256>).")
@click.option("--json", "as_json", is_flag=True, help="Print the registered key as JSON.")
def keys_add(
    partner_id: str,
    public_key_file: Path | None,
    generate: bool,
    private_key_out: Path | None,
    key_id: str | None,
    as_json: bool,
) -> None:
    """Register a public key of issuing partner PARTNER_ID (an ISSUING_AUTHORITY or INSPECTION_BODY;
    other roles issue no certificates and are refused)."""
    from corridor.core import partners, signatures

    if generate == (public_key_file is not None):
        raise click.UsageError("give exactly one of --public-key FILE and --generate")
    private_key = signatures.generate_private_key() if generate else None
    try:
        public_key = (
            signatures.public_key_bytes(private_key)
            if private_key is not None
            else signatures.load_public_key(public_key_file.read_bytes())  # type: ignore[union-attr]
        )
    except signatures.SignatureError as exc:
        raise click.ClickException(str(exc)) from None
    key_id = key_id or signatures.default_key_id(partner_id, public_key)
    if private_key is not None and private_key_out is None:
        private_key_out = _default_private_key_path(key_id)

    async def check_issuer(pool: Any, schema: str) -> None:
        partner = await partners.get_partner(pool, partner_id, schema=schema)
        if partner is None:
            raise click.ClickException(f"no partner {partner_id!r} (`corridor partners add` registers it)")
        if partner.role not in SIGNING_ROLES:
            raise click.ClickException(
                f"partner {partner_id!r} is a {partner.role}, which issues no certificates; signing keys "
                f"are for {' and '.join(sorted(SIGNING_ROLES))} partners"
            )

    async def add(pool: Any, schema: str) -> signatures.AuthorityKey:
        await check_issuer(pool, schema)
        return await signatures.add_key(pool, partner_id, public_key, key_id=key_id, schema=schema)

    _run(check_issuer)  # before a private key is written for a partner that cannot use it
    if private_key is not None and private_key_out is not None:
        # written before registering: a registered key is never without its half
        _write_private_key(private_key_out, signatures.private_key_pem(private_key))
    key = _run(add)
    if as_json:
        _echo_json({**key.to_dict(), "private_key_file": str(private_key_out) if private_key_out else None})
        return
    click.echo(f"key {key.key_id} of {key.partner_id} registered (SHA-256 {key.to_dict()['fingerprint']})")
    if private_key_out is not None:
        click.echo(
            f"private key (keep it secret; sign with `corridor certificates sign --key`): {private_key_out}"
        )


@keys.command("list")
@click.option("--partner", "partner_id", help="Only this partner's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print the keys as a JSON array.")
def keys_list(partner_id: str | None, as_json: bool) -> None:
    """List registered authority keys (public halves only)."""
    from corridor.core import signatures

    found = _run(lambda pool, schema: signatures.list_keys(pool, partner_id=partner_id, schema=schema))
    if as_json:
        _echo_json([k.to_dict() for k in found])
        return
    if not found:
        click.echo("no authority keys yet (`corridor certificates keys add` registers one)")
        return
    click.echo(f"{'partner':<28} {'key id':<36} {'created':<20} {'revoked':<20} public key (base64)")
    for k in found:
        row = k.to_dict()
        created = k.created_at.strftime("%Y-%m-%d %H:%M") if k.created_at else ""
        revoked = k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else ""
        click.echo(f"{k.partner_id:<28} {k.key_id:<36} {created:<20} {revoked:<20} {row['public_key']}")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="Print the revoked key as JSON.")
def keys_revoke(key_id: str, as_json: bool) -> None:
    """Revoke KEY_ID (compromised): certificates it signed verify as revoked from now on."""
    from corridor.core import signatures

    key = _run(lambda pool, schema: signatures.revoke_key(pool, key_id, schema=schema))
    if as_json:
        _echo_json(key.to_dict())
        return
    click.echo(f"key {key.key_id} of {key.partner_id} revoked at {key.revoked_at}")
