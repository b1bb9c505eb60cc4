/**
 * The `Corridor-Signature` header of webhook deliveries (docs/webhooks-receiver.md, ADR 12):
 * `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`, one or more v1 entries.
 * `verifyWebhook` checks one delivery; `WebhookReceiver` also refuses a signed request seen before
 * (replay, 409) and acknowledges an event id it processed already (duplicate, 200).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const HEADER = 'Corridor-Signature';
export const DEFAULT_TOLERANCE_S = 300;

export type WebhookResult =
  | { result: 'ok'; timestamp: number }
  | { result: 'bad_signature' | 'stale' | 'malformed'; reason: string };

export function parseHeader(header: string): { timestamp: number; signatures: string[] } | string {
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    const name = part.slice(0, at).trim();
    const value = part.slice(at + 1);
    if (name === 't') {
      if (!/^\s*[+-]?\d+\s*$/.test(value)) return `timestamp '${value}' is not an integer`;
      timestamp = Number.parseInt(value, 10);
    } else if (name === 'v1') signatures.push(value.trim().toLowerCase());
  }
  if (timestamp === null || signatures.length === 0) return `${HEADER} needs t=<unix seconds> and v1=<hex HMAC-SHA256>`;
  return { timestamp, signatures };
}

export function mac(secret: string, timestamp: number, body: Buffer): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${timestamp}.`).update(body).digest('hex');
}

/** Checks a delivery against each secret the receiver holds (several while a secret is being changed). */
export function verifyWebhook(
  header: string | null | undefined,
  body: Buffer,
  secrets: string[],
  now: number = Date.now() / 1000,
  toleranceS: number = DEFAULT_TOLERANCE_S,
): WebhookResult {
  if (!header) return { result: 'malformed', reason: `no ${HEADER} header` };
  const parsed = parseHeader(header);
  if (typeof parsed === 'string') return { result: 'malformed', reason: parsed };
  const matches = secrets.some((secret) => {
    const expected = Buffer.from(mac(secret, parsed.timestamp, body), 'utf8');
    return parsed.signatures.some((s) => {
      const given = Buffer.from(s, 'utf8');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  });
  if (!matches) return { result: 'bad_signature', reason: 'signature does not match the body' };
  const off = Math.abs(now - parsed.timestamp);
  if (off > toleranceS) {
    return { result: 'stale', reason: `timestamp ${parsed.timestamp} is ${Math.round(off)} s from now (tolerance ${toleranceS} s)` };
  }
  return { result: 'ok', timestamp: parsed.timestamp };
}

/** A receiver's decisions: 401 bad signature or stale, 409 replay, 400 no event id, 200 processed/duplicate. */
export class WebhookReceiver {
  private readonly accepted = new Map<string, number>(); // v1 value -> its timestamp
  private readonly processed = new Set<string>(); // CloudEvents ids

  constructor(private readonly secrets: string[], private readonly toleranceS = DEFAULT_TOLERANCE_S) {}

  receive(header: string | null, body: Buffer, now: number = Date.now() / 1000): { status: number; answer: string } {
    const checked = verifyWebhook(header, body, this.secrets, now, this.toleranceS);
    if (checked.result !== 'ok') return { status: 401, answer: checked.result === 'stale' ? 'stale' : 'bad_signature' };
    let id: unknown;
    try {
      id = JSON.parse(body.toString('utf8')).id;
    } catch {
      id = undefined;
    }
    if (typeof id !== 'string' || !id) return { status: 400, answer: 'bad_document' };
    for (const [value, t] of this.accepted) if (t < now - 2 * this.toleranceS) this.accepted.delete(value);
    const presented = (parseHeader(header as string) as { signatures: string[] }).signatures;
    if (presented.some((s) => this.accepted.has(s))) return { status: 409, answer: 'replay' };
    for (const s of presented) this.accepted.set(s, checked.timestamp);
    if (this.processed.has(id)) return { status: 200, answer: 'duplicate' };
    this.processed.add(id);
    return { status: 200, answer: 'processed' };
  }
}
