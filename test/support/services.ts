import { Client } from 'pg';
import { Kafka, logLevel } from '../../src/connectors/kafka/kafkajs';
import { awaiting } from './awaiting';

export const env = {
  sourceUrl: () => process.env.TANDEM_SOURCE_URL!,
  targetUrl: () => process.env.TANDEM_TARGET_URL!,
  brokers: () => process.env.TANDEM_KAFKA_BROKERS!.split(','),
};

/** A name unique to this test run, for slots, publications, topic prefixes and tables. */
export function uniqueName(base: string): string {
  return `${base}_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export async function withSource<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: env.sourceUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export function sql(text: string, values: unknown[] = []): Promise<Array<Record<string, any>>> {
  return withSource(async (client) => (await client.query(text, values)).rows);
}

export function testKafka(): Kafka {
  return new Kafka({ clientId: 'tandem-test', brokers: env.brokers(), logLevel: logLevel.NOTHING });
}

/**
 * Polls `check` until it returns something truthy. `explain`, if given, is asked on a timeout and
 * its answer added to the error: the state of the system that should have made the check pass.
 */
export function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string, explain?: () => Promise<string>): Promise<T> {
  return awaiting(what, poll(check, timeoutMs, what, explain));
}

async function poll<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string, explain?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result) return result;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const state = explain ? `\n${await explain().catch((error: Error) => `(explaining failed: ${error.message})`)}` : '';
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}${state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Cleans up slots a test left behind (a stopped capture's slot still retains WAL). */
export async function dropSlot(slot: string): Promise<void> {
  await sql('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot]);
}
