/**
 * The Confluent wire format (byte 0, 4-byte big-endian schema id, Avro binary) and the schema registry's
 * REST API: the writer's schema of an id comes from GET /schemas/ids/{id}, once per id.
 */
import { type Plain, SchemaWalker } from './avro';

export interface Decoded {
  schemaId: number;
  type: string; // the record's full name, e.g. corridor.trade.orders.OrderPlaced
  value: { [key: string]: Plain }; // plain form (contracts/vectors/README.md)
  walker: SchemaWalker;
}

export function unframe(data: Buffer): { schemaId: number; body: Buffer } {
  if (data.length < 5) throw new Error(`record of ${data.length} bytes is shorter than the 5-byte wire-format header`);
  if (data[0] !== 0) throw new Error(`magic byte is ${data[0]}, expected 0 (Confluent wire format)`);
  const schemaId = data.readInt32BE(1);
  if (schemaId < 1) throw new Error(`schema id ${schemaId} is out of range`);
  return { schemaId, body: data.subarray(5) };
}

export type SchemaSource = (id: number) => Promise<string>;

/**
 * Fetches writer schemas from a Confluent-compatible registry (Corridor's own, or any other), logged in
 * with `userInfo` ("user:password", Confluent's basic.auth.user.info: the read-only partner-<id> login
 * `corridor partners add` prints); the registry answers 401 without it.
 */
export function registrySource(url: string, userInfo: string, headers: Record<string, string> = {}): SchemaSource {
  const base = url.replace(/\/+$/, '');
  if (!userInfo.includes(':')) throw new Error('the schema registry login is user:password (basic.auth.user.info)');
  const authorization = `Basic ${Buffer.from(userInfo, 'utf8').toString('base64')}`;
  return async (id: number) => {
    const response = await fetch(`${base}/schemas/ids/${id}`, { headers: { Accept: 'application/vnd.schemaregistry.v1+json', Authorization: authorization, ...headers } });
    if (!response.ok) throw new Error(`schema registry answered ${response.status} for schema id ${id}: ${await response.text()}`);
    const body = (await response.json()) as { schema?: string };
    if (typeof body.schema !== 'string') throw new Error(`schema registry gave no schema for id ${id}`);
    return body.schema;
  };
}

export class Decoder {
  private readonly walkers = new Map<number, Promise<SchemaWalker>>();

  constructor(private readonly source: SchemaSource) {}

  walker(schemaId: number): Promise<SchemaWalker> {
    let found = this.walkers.get(schemaId);
    if (!found) {
      found = this.source(schemaId).then((schema) => new SchemaWalker(schema));
      found.catch(() => this.walkers.delete(schemaId)); // a failed lookup is tried again next time
      this.walkers.set(schemaId, found);
    }
    return found;
  }

  async decode(data: Buffer): Promise<Decoded> {
    const { schemaId, body } = unframe(data);
    const walker = await this.walker(schemaId);
    const raw = walker.type.fromBuffer(body); // throws on trailing or missing bytes
    return { schemaId, type: walker.fullName, value: walker.plain(raw) as { [key: string]: Plain }, walker };
  }
}
