#!/usr/bin/env node
/**
 * The runnable example of docs/partners/typescript.md: reads your partner topic, decodes every record
 * through the registry, verifies certificates offline with the issuers' keys, and prints one JSON line
 * per record (the format every Corridor example client prints: clients/README.md).
 *
 * Environment: PARTNER_ID, PARTNER_PASSWORD, PARTNER_BOOTSTRAP (host:port of the partner listener),
 * SCHEMA_REGISTRY_URL, SCHEMA_REGISTRY_USER_INFO (the partner's registry login), KEYRING_FILE (`corridor certificates keys list --json`), optional PARTNER_GROUP
 * (default <partner id>.ts-example), PARTNER_CA_FILE (the CA certificate `partners add` printed; else
 * Node's roots: the listener is always reached over TLS with the host name verified),
 * MAX_RECORDS (stop after that many), IDLE_TIMEOUT_S (stop when nothing came for that long; default 20).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type AuthorityKey, keyringOf, SIGNED_TYPES, verifyCertificate } from './certificates';
import { consumePartnerTopic, type PartnerRecord } from './consumer';
import { canonicalJson } from './jcs';

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`set ${name}`);
  return value;
}

export function describe(record: PartnerRecord, keyring: Map<string, AuthorityKey>): Record<string, unknown> {
  const { value, type, walker } = record;
  let certificate: Record<string, unknown> | null = null;
  if (SIGNED_TYPES.has(type)) {
    const verdict = verifyCertificate(walker, type, value, keyring, null);
    const altered = { ...value, certificate_number: `${String(value.certificate_number)}-X` };
    const tampered = verifyCertificate(walker, type, altered, keyring, null);
    certificate = {
      number: verdict.certificate_number, verdict: verdict.status, key_id: verdict.key_id,
      signer: verdict.signer, tampered_copy_verdict: tampered.status,
    };
  }
  return {
    partition: record.partition,
    offset: Number(record.offset),
    key: record.key,
    ce_id: record.headers.ce_id ?? null,
    ce_type: record.headers.ce_type ?? null,
    type,
    trade_id: value.trade_id,
    sender: value.sender,
    occurred_at: value.occurred_at,
    value_sha256: createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex'),
    certificate,
  };
}

async function main(): Promise<void> {
  const partnerId = env('PARTNER_ID');
  const keyring = keyringOf(JSON.parse(readFileSync(env('KEYRING_FILE'), 'utf8')) as AuthorityKey[]);
  const maxRecords = Number(process.env.MAX_RECORDS ?? '0');
  const idleMs = Number(process.env.IDLE_TIMEOUT_S ?? '20') * 1000;
  const caFile = process.env.PARTNER_CA_FILE;
  let seen = 0;
  let last = Date.now();
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => { done = resolve; });
  const stop = await consumePartnerTopic(
    {
      bootstrap: env('PARTNER_BOOTSTRAP').split(','),
      partnerId,
      password: env('PARTNER_PASSWORD'),
      group: process.env.PARTNER_GROUP || `${partnerId}.ts-example`,
      registryUrl: env('SCHEMA_REGISTRY_URL'),
      registryUserInfo: env('SCHEMA_REGISTRY_USER_INFO'),
      ssl: caFile ? { ca: [readFileSync(caFile)] } : true,
    },
    async (record) => {
      process.stdout.write(`${JSON.stringify(describe(record, keyring))}\n`);
      seen += 1;
      last = Date.now();
      if (maxRecords > 0 && seen >= maxRecords) done();
    },
  );
  const timer = setInterval(() => { if (Date.now() - last > idleMs) done(); }, 250);
  await finished;
  clearInterval(timer);
  await stop();
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  });
}
