/**
 * Reading a partner topic with kafkajs: SCRAM-SHA-512 over TLS on the partner listener (SASL_SSL; `ssl`
 * gives the CA certificate `partners add` printed, `{ ca: [pem] }`, else Node's roots; host names checked),
 * `partner.<partner id>.v1`, a consumer group `<partner id>.<name>` (the broker refuses any other),
 * read_committed (the relay writes partner topics in Kafka transactions), offsets committed after the
 * handler returned (at least once: handlers deduplicate on the CloudEvents id).
 */
import type { ConnectionOptions } from 'node:tls';
import { Kafka, logLevel } from 'kafkajs';
import { Decoder, registrySource, type Decoded } from './wire';

export interface PartnerConfig {
  bootstrap: string[];
  partnerId: string;
  username?: string; // defaults to the partner id
  password: string;
  group: string;
  registryUrl: string;
  registryUserInfo: string; // the partner's registry login, partner-<id>:<password> (partners add)
  ssl?: true | ConnectionOptions; // TLS options of the partner listener (always TLS)
  fromBeginning?: boolean;
}

export interface PartnerRecord extends Decoded {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
}

export function partnerTopic(partnerId: string): string {
  return `partner.${partnerId}.v1`;
}

export function checkGroup(partnerId: string, group: string): void {
  const prefix = `${partnerId}.`;
  if (!group.startsWith(prefix) || group === prefix) {
    throw new Error(`consumer group '${group}': the broker lets partner '${partnerId}' use only groups named ${prefix}<something>`);
  }
}

/** Runs `handler` for every record of the partner topic until `signal` aborts; returns the consumer's stop. */
export async function consumePartnerTopic(
  config: PartnerConfig,
  handler: (record: PartnerRecord) => Promise<void>,
): Promise<() => Promise<void>> {
  checkGroup(config.partnerId, config.group);
  const kafka = new Kafka({
    clientId: `corridor-ts-${config.group}`,
    brokers: config.bootstrap,
    ssl: config.ssl ?? true,
    sasl: { mechanism: 'scram-sha-512', username: config.username ?? config.partnerId, password: config.password },
    logLevel: logLevel.ERROR,
  });
  const decoder = new Decoder(registrySource(config.registryUrl, config.registryUserInfo));
  const consumer = kafka.consumer({ groupId: config.group, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: partnerTopic(config.partnerId), fromBeginning: config.fromBeginning ?? true });
  await consumer.run({
    autoCommit: true, // kafkajs commits only offsets of messages whose handler resolved
    eachMessage: async ({ topic, partition, message }) => {
      if (!message.value) throw new Error(`${topic}:${partition}:${message.offset} has no value`);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.map(String).join(',') : value.toString();
      }
      const decoded = await decoder.decode(message.value);
      await handler({ ...decoded, topic, partition, offset: message.offset, key: message.key?.toString() ?? null, headers });
    },
  });
  return async () => consumer.disconnect();
}
