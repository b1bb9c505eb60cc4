/** The shared test vectors of contracts/vectors/ (README there), passed by this client. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import {
  type AuthorityKey, canonicalBytes, canonicalJson, Decoder, keyringOf, verifyCertificate,
  type Plain, verifyWebhook, WebhookReceiver,
} from '../src/index';

function vectorsDir(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'contracts', 'vectors', 'records.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('contracts/vectors/ not found above this client');
    dir = up;
  }
  return join(dir, 'contracts', 'vectors');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function load(name: string): any {
  return JSON.parse(readFileSync(join(vectorsDir(), name), 'utf8'));
}

const schemas = load('schemas.json').schemas as Record<string, { schema: string }>;
const decoder = new Decoder(async (id) => {
  const found = schemas[String(id)];
  if (!found) throw new Error(`no schema ${id} in the vectors`);
  return found.schema;
});

test('every record decodes to its value', async () => {
  const { records } = load('records.json');
  assert.ok(records.length >= 16);
  for (const record of records) {
    const decoded = await decoder.decode(Buffer.from(record.value_hex, 'hex'));
    assert.equal(decoded.schemaId, record.schema_id, record.name);
    assert.equal(decoded.type, record.type, record.name);
    assert.deepEqual(decoded.value, record.value, record.name);
    assert.equal(record.headers.ce_type, record.type);
    assert.equal(record.key, decoded.value.trade_id, record.name);
    assert.deepEqual(Buffer.from(record.value_base64, 'base64'), Buffer.from(record.value_hex, 'hex'));
  }
});

test('a truncated record is refused', async () => {
  const { records } = load('records.json');
  const data = Buffer.from(records[0].value_hex, 'hex');
  await assert.rejects(decoder.decode(data.subarray(0, data.length - 3)));
  await assert.rejects(decoder.decode(Buffer.concat([Buffer.from([1]), data.subarray(1)])), /magic byte/);
});

test('certificates: canonical bytes and verdicts', async () => {
  const vectors = load('certificates.json');
  const keyring = keyringOf(vectors.keys as AuthorityKey[]);
  const verdicts = new Set<string>();
  for (const c of vectors.cases) {
    const decoded = await decoder.decode(Buffer.from(c.value_hex, 'hex'));
    assert.deepEqual(decoded.value, c.value, c.name);
    const canonical = canonicalBytes(decoded.walker, decoded.type, decoded.value);
    assert.equal(canonical.toString('utf8'), c.canonical, c.name);
    const verdict = verifyCertificate(decoded.walker, decoded.type, decoded.value, keyring, c.certificate_status);
    assert.equal(verdict.status, c.verdict, `${c.name}: ${verdict.reason}`);
    assert.equal(verdict.key_id, c.key_id, c.name);
    assert.equal(verdict.signer, c.signer, c.name);
    verdicts.add(verdict.status);
  }
  assert.deepEqual([...verdicts].sort(), ['revoked', 'superseded', 'tampered', 'unknown_signer', 'unsigned', 'valid']);
});

test('certificates that came as JSON give the same canonical bytes', async () => {
  const vectors = load('certificates.json');
  let forms = 0;
  for (const c of vectors.cases) {
    const walker = await decoder.walker(c.schema_id);
    for (const form of ['json', 'json_members_absent', 'json_as_sent']) {
      if (!(form in c)) continue;
      const value = walker.fromJson(c[form]) as { [key: string]: Plain };
      assert.equal(canonicalBytes(walker, c.type, value).toString('utf8'), c.canonical, `${c.name} ${form}`);
      forms += 1;
    }
  }
  assert.ok(forms > vectors.cases.length);
});

test('JCS escaping', () => {
  assert.equal(canonicalJson({ b: 'a"\\\b\f\n\r\t\u0001\u007f\u2028é', a: [1, null, true] }),
    '{"a":[1,null,true],"b":"a\\"\\\\\\b\\f\\n\\r\\t\\u0001\u007f\u2028é"}');
});

test('webhook signatures', () => {
  const vectors = load('webhooks.json');
  for (const c of vectors.cases) {
    const got = verifyWebhook(c.header, Buffer.from(c.body_base64, 'base64'), c.secrets, c.now, c.tolerance_s);
    assert.equal(got.result, c.result, `${c.name}: ${'reason' in got ? got.reason : ''}`);
    if (got.result === 'ok') assert.equal(got.timestamp, c.timestamp, c.name);
  }
});

test('webhook receiver: replay and duplicates', () => {
  for (const sequence of load('webhooks.json').sequences) {
    const receiver = new WebhookReceiver(sequence.secrets, sequence.tolerance_s);
    for (const step of sequence.steps) {
      const got = receiver.receive(step.header, Buffer.from(step.body_base64, 'base64'), step.now);
      assert.deepEqual(got, { status: step.status, answer: step.answer }, step.description);
    }
  }
});
