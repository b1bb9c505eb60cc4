/**
 * Offline verification of an issuer's Ed25519 signature on a certificate event
 * (docs/adr/0013-signed-certificates.md), with the verdicts and their order of the Python code
 * (services/core/signatures.py `verify_event`): unsigned -> unknown_signer -> tampered -> revoked ->
 * the certificate's status in the ledger (revoked / superseded) -> valid.
 */
import { createPublicKey, verify } from 'node:crypto';
import { type Plain, SchemaWalker } from './avro';
import { canonicalJson } from './jcs';

export const SIGNED_TYPES = new Set([
  'corridor.trade.certificates.CertificateIssued',
  'corridor.trade.certificates.CertificateAmended',
]);

/** One registered key, as `corridor certificates keys list --json` prints it. */
export interface AuthorityKey {
  partner_id: string;
  key_id: string;
  public_key: string; // raw 32-byte key, standard base64
  revoked_at?: string | null;
}

export type VerdictStatus = 'valid' | 'tampered' | 'unknown_signer' | 'revoked' | 'superseded' | 'unsigned';

export interface Verdict {
  status: VerdictStatus;
  reason: string;
  certificate_number: string | null;
  key_id: string | null;
  signer: string | null;
}

/** The UTF-8 bytes an issuer signs: JCS of {"data": <fields but signature, canonical>, "type": <event type>}. */
export function canonicalBytes(walker: SchemaWalker, type: string, value: { [key: string]: Plain }): Buffer {
  const data = walker.canonical({ ...value, signature: null }) as { [key: string]: Plain };
  return Buffer.from(canonicalJson({ type, data }), 'utf8');
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function verifyCertificate(
  walker: SchemaWalker,
  type: string,
  value: { [key: string]: Plain },
  keyring: Map<string, AuthorityKey>,
  certificateStatus: string | null = null,
): Verdict {
  const number = typeof value.certificate_number === 'string' ? value.certificate_number : null;
  const signature = value.signature as { algorithm: string; key_id: string; value: string } | null | undefined;
  if (!SIGNED_TYPES.has(type) || !signature) {
    return { status: 'unsigned', reason: `${type.split('.').pop()} carries no signature`, certificate_number: number, key_id: null, signer: null };
  }
  const issuer = (value.issuer as { party_id: string }).party_id;
  const key = keyring.get(signature.key_id);
  const verdict = (status: VerdictStatus, reason: string): Verdict => ({
    status, reason, certificate_number: number, key_id: signature.key_id, signer: key ? key.partner_id : null,
  });
  if (!key) return verdict('unknown_signer', `no registered key '${signature.key_id}'`);
  if (key.partner_id !== issuer) {
    return verdict('unknown_signer', `key '${key.key_id}' belongs to ${key.partner_id}, not to the issuer ${issuer}`);
  }
  if (signature.algorithm !== 'Ed25519') return verdict('tampered', `algorithm '${signature.algorithm}' is not Ed25519`);
  const raw = Buffer.from(signature.value, 'base64');
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, Buffer.from(key.public_key, 'base64')]), format: 'der', type: 'spki' });
  const ok = raw.length === 64 && verify(null, canonicalBytes(walker, type, value), publicKey, raw);
  if (!ok) return verdict('tampered', `the signature by '${key.key_id}' does not match the certificate's content`);
  if (key.revoked_at) return verdict('revoked', `the signing key '${key.key_id}' was revoked at ${key.revoked_at}`);
  const status = (certificateStatus ?? '').toUpperCase();
  if (status === 'REVOKED') return verdict('revoked', 'signature valid, but the certificate is revoked');
  if (status === 'SUPERSEDED') return verdict('superseded', 'signature valid, but the certificate is superseded');
  return verdict('valid', `signed by ${issuer} with key '${key.key_id}'`);
}

/** A keyring from the JSON list of `corridor certificates keys list --json`. */
export function keyringOf(keys: AuthorityKey[]): Map<string, AuthorityKey> {
  return new Map(keys.map((k) => [k.key_id, k]));
}
