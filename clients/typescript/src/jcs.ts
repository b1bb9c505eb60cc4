/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values Corridor signs: objects with members sorted by
 * name (UTF-16 code units), no whitespace, strings escaped as ECMAScript's JSON.stringify does (which
 * RFC 8785 adopts), integers only (decimals and instants are strings before they get here).
 */
import type { Plain } from './avro';

export function canonicalJson(value: Plain): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`number ${value} has no canonical form here (integers only)`);
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort(); // default sort compares UTF-16 code units, as RFC 8785 says
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}
