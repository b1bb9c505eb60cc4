/**
 * Avro values as plain JSON, by walking the writer's schema (the registry's answer to
 * GET /schemas/ids/{id}) beside a value avsc decoded without logical types:
 *
 * - decimal (bytes, two's complement big-endian) -> string with exactly the schema's scale ("5512.400")
 * - timestamp-millis (long) -> "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC)
 * - date (int, days since 1970-01-01) -> "YYYY-MM-DD"
 * - uuid, string, enum -> string; bytes -> standard base64; null stays null; unions give the branch's value
 *
 * This is the "plain" form of contracts/vectors/README.md. `canonicalData` turns it into what an issuer
 * signs (docs/adr/0013-signed-certificates.md): nulls left out, decimals without trailing zeros.
 */
import avro from 'avsc';

export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };
type Schema = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

/** Named types of a schema by full name, so references by name can be followed. */
export class SchemaWalker {
  readonly root: Schema;
  private readonly named = new Map<string, Schema>();
  readonly type: avro.Type;

  constructor(schema: Schema | string) {
    this.root = typeof schema === 'string' ? JSON.parse(schema) : schema;
    this.collect(this.root, '');
    this.type = avro.Type.forSchema(this.root, { wrapUnions: false } as avro.ForSchemaOptions);
  }

  /** Full name of the record the schema describes, e.g. corridor.trade.certificates.CertificateIssued. */
  get fullName(): string {
    return fullName(this.root.name, this.root.namespace ?? '');
  }

  private collect(schema: Schema, namespace: string): void {
    if (Array.isArray(schema)) {
      schema.forEach((s) => this.collect(s, namespace));
      return;
    }
    if (typeof schema !== 'object' || schema === null) return;
    if (schema.type === 'record' || schema.type === 'error' || schema.type === 'enum' || schema.type === 'fixed') {
      const name = fullName(schema.name, schema.namespace ?? namespace);
      this.named.set(name, schema);
      const inner = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
      for (const field of schema.fields ?? []) this.collect(field.type, inner);
      return;
    }
    if (schema.type === 'array') this.collect(schema.items, namespace);
    else if (schema.type === 'map') this.collect(schema.values, namespace);
    else if (typeof schema.type === 'object') this.collect(schema.type, namespace);
  }

  private resolve(schema: Schema, namespace: string): [Schema, string] {
    if (typeof schema === 'string' && !PRIMITIVES.has(schema)) {
      const found = this.named.get(schema) ?? this.named.get(fullName(schema, namespace));
      if (found === undefined) throw new Error(`schema names an unknown type ${schema}`);
      return [found, namespaceOf(fullName(found.name, found.namespace ?? namespace))];
    }
    if (typeof schema === 'object' && schema !== null && !Array.isArray(schema) && typeof schema.type === 'object') {
      return this.resolve(schema.type, namespace);
    }
    if (typeof schema === 'object' && schema !== null && ['record', 'error', 'enum', 'fixed'].includes(schema.type)) {
      return [schema, namespaceOf(fullName(schema.name, schema.namespace ?? namespace))];
    }
    return [schema, namespace];
  }

  /** The decoded value in plain form. */
  plain(value: unknown, schema: Schema = this.root, namespace = ''): Plain {
    const [s, ns] = this.resolve(schema, namespace);
    if (Array.isArray(s)) {
      if (value === null || value === undefined) return null;
      const branches = s.filter((b: Schema) => b !== 'null' && !(typeof b === 'object' && b?.type === 'null'));
      if (branches.length !== 1) throw new Error('only unions of null and one type are supported');
      return this.plain(value, branches[0], ns);
    }
    const type = typeof s === 'string' ? s : s.type;
    const logical = typeof s === 'object' ? s.logicalType : undefined;
    switch (type) {
      case 'null':
        return null;
      case 'record': {
        const out: { [key: string]: Plain } = {};
        const record = value as Record<string, unknown>;
        for (const field of s.fields) out[field.name] = this.plain(record[field.name], field.type, ns);
        return out;
      }
      case 'array':
        return (value as unknown[]).map((v) => this.plain(v, s.items, ns));
      case 'map': {
        const out: { [key: string]: Plain } = {};
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = this.plain(v, s.values, ns);
        return out;
      }
      case 'enum':
      case 'string':
        return String(value);
      case 'boolean':
        return Boolean(value);
      case 'int':
        return logical === 'date' ? isoDate(Number(value)) : Number(value);
      case 'long':
        return logical === 'timestamp-millis' ? isoMillis(Number(value)) : Number(value);
      case 'float':
      case 'double':
        return Number(value);
      case 'bytes':
      case 'fixed':
        return logical === 'decimal' ? decimalString(value as Buffer, s.scale ?? 0) : (value as Buffer).toString('base64');
      default:
        throw new Error(`unsupported Avro type ${JSON.stringify(type)}`);
    }
  }

  /**
   * The plain form of an event that came as JSON (a webhook's `data`, the gateway's body): members left
   * out become null, instants written with an offset (`2026-03-01T15:00:00+05:00`) become UTC
   * milliseconds; decimals stay the strings they are.
   */
  fromJson(value: unknown, schema: Schema = this.root, namespace = ''): Plain {
    const [s, ns] = this.resolve(schema, namespace);
    if (value === null || value === undefined) return null;
    if (Array.isArray(s)) {
      const branch = s.find((b: Schema) => b !== 'null' && !(typeof b === 'object' && b?.type === 'null'));
      return this.fromJson(value, branch, ns);
    }
    const type = typeof s === 'string' ? s : s.type;
    if (type === 'record') {
      const out: { [key: string]: Plain } = {};
      const record = value as Record<string, unknown>;
      for (const field of s.fields) out[field.name] = this.fromJson(record[field.name], field.type, ns);
      return out;
    }
    if (type === 'array') return (value as unknown[]).map((v) => this.fromJson(v, s.items, ns));
    if (typeof s === 'object' && s.logicalType === 'timestamp-millis') {
      const ms = typeof value === 'number' ? value : Date.parse(String(value));
      if (Number.isNaN(ms)) throw new Error(`instant ${JSON.stringify(value)} is not ISO 8601`);
      return isoMillis(ms);
    }
    return value as Plain;
  }

  /**
   * What is signed of a plain value: members whose value is null left out (at every depth), decimals in
   * plain notation without trailing fractional zeros ("5512.400" -> "5512.4", "0.000" -> "0").
   */
  canonical(value: Plain, schema: Schema = this.root, namespace = ''): Plain {
    const [s, ns] = this.resolve(schema, namespace);
    if (value === null) return null;
    if (Array.isArray(s)) {
      const branch = s.find((b: Schema) => b !== 'null' && !(typeof b === 'object' && b?.type === 'null'));
      return this.canonical(value, branch, ns);
    }
    const type = typeof s === 'string' ? s : s.type;
    if (type === 'record') {
      const out: { [key: string]: Plain } = {};
      const record = value as { [key: string]: Plain };
      for (const field of s.fields) {
        if (!(field.name in record) || record[field.name] === null) continue;
        out[field.name] = this.canonical(record[field.name], field.type, ns);
      }
      return out;
    }
    if (type === 'array') return (value as Plain[]).map((v) => this.canonical(v, s.items, ns));
    if (typeof s === 'object' && s.logicalType === 'decimal') return normaliseDecimal(String(value));
    if (type === 'int' || type === 'long') {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) {
        throw new Error(`integer ${value} is beyond what JSON represents exactly`);
      }
    }
    return value;
  }
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || !namespace ? name : `${namespace}.${name}`;
}

function namespaceOf(name: string): string {
  return name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : '';
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** UTC instant with exactly three fraction digits. */
export function isoMillis(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 0 || d.getUTCFullYear() > 9999) {
    throw new Error(`timestamp ${ms} ms is outside years 0000-9999`);
  }
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}Z`
  );
}

export function isoDate(days: number): string {
  return isoMillis(days * 86_400_000).slice(0, 10);
}

/** An Avro decimal (big-endian two's complement unscaled value) as a string with `scale` fraction digits. */
export function decimalString(bytes: Buffer, scale: number): string {
  let unscaled = 0n;
  for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
  if (bytes.length > 0 && bytes[0] & 0x80) unscaled -= 1n << BigInt(8 * bytes.length);
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  }
  return negative ? `-${digits}` : digits;
}

/** Plain notation without trailing fractional zeros or trailing point; zero is "0". */
export function normaliseDecimal(text: string): string {
  if (!/^-?\d+(\.\d+)?$/.test(text)) throw new Error(`decimal ${JSON.stringify(text)} is not in plain notation`);
  let [whole, fraction = ''] = text.replace(/^-/, '').split('.');
  fraction = fraction.replace(/0+$/, '');
  whole = whole.replace(/^0+(?=\d)/, '');
  const body = fraction ? `${whole}.${fraction}` : whole;
  if (/^0(\.0*)?$/.test(body)) return '0';
  return text.startsWith('-') ? `-${body}` : body;
}
