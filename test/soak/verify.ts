import { randomUUID } from 'crypto';
import type { Kafka } from 'kafkajs';
import { Client } from 'pg';

export interface KafkaCheck {
  records: number;
  changeEvents: number;
  snapshotEvents: number;
  streamingEvents: number;
  tombstones: number;
  transactionMarkers: number;
  violations: string[];
}

interface CountedEvent {
  key: string;
  op: string;
  counter: number | null;
  lsn: string;
}

/**
 * Reads a table topic and the transaction topic from the beginning with a read_committed consumer
 * up to their end offsets, and checks, per key in partition order: a snapshot read or insert first,
 * every update raising the counter by exactly one, nothing after a delete; no two streaming events
 * with the same (key, source LSN); no transaction marker twice. Then compares the folded state with
 * the legacy table's (id -> counter).
 */
export async function checkKafka(
  kafka: Kafka,
  tableTopic: string,
  transactionTopic: string,
  legacy: Map<string, number>,
): Promise<KafkaCheck> {
  const check: KafkaCheck = {
    records: 0,
    changeEvents: 0,
    snapshotEvents: 0,
    streamingEvents: 0,
    tombstones: 0,
    transactionMarkers: 0,
    violations: [],
  };
  const violation = (text: string) => {
    if (check.violations.length < 50) check.violations.push(text);
    else if (check.violations.length === 50) check.violations.push('… (more violations not listed)');
  };
  const state = new Map<string, number>();
  const deleted = new Set<string>();
  const streamingSeen = new Set<string>();
  const markers = new Set<string>();

  await readToEnd(kafka, [tableTopic, transactionTopic], (topic, key, value) => {
    check.records += 1;
    if (topic === transactionTopic) {
      if (value === null) return;
      const marker = JSON.parse(value) as { id: string; status: string };
      check.transactionMarkers += 1;
      const id = `${marker.status}:${marker.id}`;
      if (markers.has(id)) violation(`transaction marker ${id} twice`);
      markers.add(id);
      return;
    }
    if (value === null) {
      check.tombstones += 1;
      return;
    }
    const event = JSON.parse(value) as {
      op: string;
      after: { counter: number } | null;
      source: { lsn: number | string };
    };
    const id = (JSON.parse(key!) as { id: string }).id;
    const counted: CountedEvent = {
      key: id,
      op: event.op,
      counter: event.after?.counter ?? null,
      lsn: String(event.source.lsn),
    };
    check.changeEvents += 1;
    if (counted.op === 'r') check.snapshotEvents += 1;
    else {
      check.streamingEvents += 1;
      const version = `${id}@${counted.lsn}`;
      if (streamingSeen.has(version)) violation(`streaming event for ${version} (op ${counted.op}) twice`);
      streamingSeen.add(version);
    }
    fold(counted);
  });

  function fold({ key, op, counter }: CountedEvent): void {
    if (deleted.has(key)) violation(`${op} of ${key} after its delete`);
    if (op === 'r' || op === 'c') {
      if (state.has(key))
        violation(`${op} of ${key} which already exists (counter ${state.get(key)}, new ${counter})`);
      state.set(key, counter!);
    } else if (op === 'u') {
      const previous = state.get(key);
      if (previous === undefined) violation(`update of ${key} which was never seen`);
      else if (counter !== previous + 1)
        violation(`update of ${key} from counter ${previous} to ${counter} (lost or repeated change)`);
      state.set(key, counter!);
    } else if (op === 'd') {
      if (!state.has(key)) violation(`delete of ${key} which was never seen`);
      state.delete(key);
      deleted.add(key);
    } else violation(`unexpected op ${op} for ${key}`);
  }

  for (const [key, counter] of legacy) {
    const seen = state.get(key);
    if (seen === undefined) violation(`legacy row ${key} (counter ${counter}) missing from Kafka`);
    else if (seen !== counter) violation(`legacy row ${key}: counter ${counter}, Kafka's last event ${seen}`);
  }
  for (const key of state.keys())
    if (!legacy.has(key)) violation(`Kafka has ${key}, which is not (or no longer) in the legacy table`);
  return check;
}

/** Reads the topics from their start to the end offsets they have now, read_committed. */
async function readToEnd(
  kafka: Kafka,
  topics: string[],
  onRecord: (topic: string, key: string | null, value: string | null) => void,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<string, bigint>();
  try {
    for (const topic of topics) {
      for (const { partition, high, low } of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(high) > BigInt(low)) remaining.set(`${topic}#${partition}`, BigInt(high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  const groupId = `soak-verify-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxBytesPerPartition: 16 << 20,
    maxWaitTimeInMs: 250,
  });
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    let lastRecordAt = Date.now();
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const id = `${batch.topic}#${batch.partition}`;
        const end = remaining.get(id);
        if (end === undefined) return;
        for (const message of batch.messages) {
          if (BigInt(message.offset) >= end) break;
          onRecord(batch.topic, message.key?.toString() ?? null, message.value?.toString() ?? null);
          lastRecordAt = Date.now();
        }
        // lastOffset() counts the transaction markers too, which are never delivered as messages.
        if (BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(id);
      },
    });
    const deadline = Date.now() + 600_000;
    // A partition whose last batch holds only a commit marker may never be handed over: after 10 s
    // without a record, what was read is all there is (anything missing shows up as a violation).
    while (remaining.size > 0 && Date.now() - lastRecordAt < 10_000) {
      if (Date.now() > deadline)
        throw new Error(`reading the topics did not reach their end: ${[...remaining.keys()].join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await consumer.disconnect();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await cleanup.deleteGroups([groupId]).catch(() => undefined);
    await cleanup.disconnect();
  }
}

export interface RowCheck {
  legacyRows: number;
  targetRows: number;
  missing: number;
  extra: number;
  mismatched: number;
  duplicateTargetRows: number;
  duplicateIdMaps: number;
  quarantined: number;
  samples: string[];
}

export interface LegacyRow {
  id: string;
  email: string;
  display_name: string | null;
  instance_name: string | null;
  meta: string | null;
  counter: number;
}

export async function readLegacyRows(url: string): Promise<Map<string, LegacyRow>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<LegacyRow>(
      'SELECT id::text, email, display_name, instance_name, raw_user_meta_data::text AS meta, counter FROM public.auth_users',
    );
    return new Map(rows.map((row) => [row.id, row]));
  } finally {
    await client.end();
  }
}

/**
 * Row by row, the users recipe's rules in JavaScript: e-mail lower-cased, name = display name else
 * the e-mail's local part, instance name else 'root', meta equal as JSON (an unchanged TOASTed
 * value must have been kept). Also: no duplicate row per source id, no duplicate id mapping,
 * nothing quarantined.
 */
export async function checkRows(legacy: Map<string, LegacyRow>, targetUrl: string): Promise<RowCheck> {
  const client = new Client({ connectionString: targetUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{
      source_user_id: string;
      email: string;
      name: string;
      instance_name: string;
      meta: string;
    }>('SELECT source_user_id::text, email, name, instance_name, meta::text FROM users.users');
    const check: RowCheck = {
      legacyRows: legacy.size,
      targetRows: rows.length,
      missing: 0,
      extra: 0,
      mismatched: 0,
      duplicateTargetRows: 0,
      duplicateIdMaps: 0,
      quarantined: 0,
      samples: [],
    };
    const sample = (text: string) => check.samples.length < 20 && check.samples.push(text);
    const seen = new Set<string>();
    for (const row of rows) {
      if (seen.has(row.source_user_id)) {
        check.duplicateTargetRows += 1;
        sample(`duplicate target row for ${row.source_user_id}`);
      }
      seen.add(row.source_user_id);
      const source = legacy.get(row.source_user_id);
      if (!source) {
        check.extra += 1;
        sample(`extra target row ${row.source_user_id}`);
        continue;
      }
      const expected = {
        email: source.email.toLowerCase(),
        name: source.display_name?.trim() ? source.display_name.trim() : source.email.split('@')[0],
        instance_name: source.instance_name ?? 'root',
        meta: source.meta ?? '{}',
      };
      const actual = { email: row.email, name: row.name, instance_name: row.instance_name, meta: row.meta };
      const differing = (Object.keys(expected) as Array<keyof typeof expected>).filter(
        (column) => expected[column] !== actual[column],
      );
      if (differing.length > 0) {
        check.mismatched += 1;
        sample(
          `${row.source_user_id}: ${differing.map((c) => `${c} ${JSON.stringify(expected[c]).slice(0, 60)} != ${JSON.stringify(actual[c]).slice(0, 60)}`).join(', ')}`,
        );
      }
    }
    for (const id of legacy.keys()) {
      if (!seen.has(id)) {
        check.missing += 1;
        sample(`missing target row for ${id}`);
      }
    }
    const idMaps = await client.query<{ duplicates: string }>(
      `SELECT count(*) AS duplicates FROM (SELECT 1 FROM tandem.id_map WHERE projection = 'users' GROUP BY entity, source_id HAVING count(*) > 1) d`,
    );
    check.duplicateIdMaps = Number(idMaps.rows[0].duplicates);
    const quarantine = await client.query<{ count: string }>(
      `SELECT count(*) FROM tandem.quarantine WHERE projection = 'users'`,
    );
    check.quarantined = Number(quarantine.rows[0].count);
    return check;
  } finally {
    await client.end();
  }
}

export const rowCheckClean = (check: RowCheck) =>
  check.missing === 0 &&
  check.extra === 0 &&
  check.mismatched === 0 &&
  check.duplicateTargetRows === 0 &&
  check.duplicateIdMaps === 0 &&
  check.quarantined === 0;
