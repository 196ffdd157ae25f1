import { randomUUID } from 'crypto';
import { Client } from 'pg';
import { writeConfig } from '../support/capture-process';
import { createTargetDatabase, targetQuery } from '../support/target-db';
import { eventually, testKafka, uniqueName } from '../support/services';
import { loadConfig } from '../../src/modules/config/load-config';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { ReplayService } from '../../src/modules/replay/replay.service';
import { summarize } from '../../src/modules/replay/schema-ops';
import { ReplayRefusedError } from '../../src/shared/errors';
import { createLogger } from '../../src/shared/logger';
import { formatLsn } from '../../src/shared/lsn';
import { LogRecordSequence } from '../../src/testing/log-records';
import { insert, remove, update, type TestChangeEvent } from '../../src/testing/change-events';
import type { TandemConfig } from '../../src/modules/config/config.schema';

/**
 * ReplayService in this process (no CLI child) against the real PostgreSQL and Kafka: the users
 * projection is fed change events written straight to its topic, projected by an in-process
 * ProjectionService, then replayed to an earlier position through the pipeline's shadow sink.
 */
describe('replay service (in process): users', () => {
  const name = uniqueName('replaysvc');
  const source = `${name}.auth_users`;
  const logger = createLogger('test', 'warn');
  const records = new LogRecordSequence(name);
  const users = Array.from({ length: 40 }, (_, i) => ({ id: randomUUID(), email: `user${i}@example.com`, display_name: `User ${i}`, created_at: '2024-01-01T00:00:00Z' }));
  let target: Awaited<ReturnType<typeof createTargetDatabase>>;
  let config: TandemConfig;
  let replays: ReplayService;
  let projector: ProjectionService | null = null;
  let pastLsn: bigint;
  let past: string;
  let present: string;

  const produce = async (events: TestChangeEvent[]) => {
    const producer = testKafka().producer();
    await producer.connect();
    try {
      const built = events.map((event) => records.next(event));
      await producer.send({ topic: built[0].topic, acks: -1, messages: built.map((r) => ({ partition: r.partition, key: r.key, value: r.value })) });
      return built;
    } finally {
      await producer.disconnect();
    }
  };
  const stateHash = async () => {
    const client = new Client({ connectionString: target.url });
    await client.connect();
    try {
      return (await summarize(client, 'users')).hash;
    } finally {
      await client.end();
    }
  };
  const count = async (where = 'true') => Number((await targetQuery(target.url, `SELECT count(*) AS n FROM users.users WHERE ${where}`))[0].n);
  const startProjector = async () => {
    projector = new ProjectionService(config, logger);
    await projector.start();
  };
  const stopProjector = async () => {
    await projector?.stop();
    projector = null;
    const admin = testKafka().admin();
    await admin.connect();
    await eventually(async () => (await admin.describeGroups([`tandem-projection.${name}.users`])).groups[0].members.length === 0, 30_000, 'an empty group');
    await admin.disconnect();
  };

  beforeAll(async () => {
    target = await createTargetDatabase('replaysvc');
    // The config file holds every address: the environment's service addresses must not override it.
    config = loadConfig(writeConfig({ prefix: name, slot: name, publication: name, tables: [source], targetUrl: target.url, projections: [{ recipe: 'users', sourceSchema: name }] }), {});
    replays = new ReplayService(config, logger);
    await startProjector(); // creates the topics
    const first = await produce([
      ...users.map((user) => insert(source, user)),
      insert(source, { id: 'not-a-uuid', email: 'bad@example.com', created_at: '2024-01-01T00:00:00Z' }),
    ]);
    pastLsn = BigInt(JSON.parse(first[first.length - 1].value!).source.commit_lsn);
    await eventually(async () => (await count()) === 40, 60_000, '40 users');
    past = await stateHash();
    await produce([
      ...users.slice(0, 10).map((user) => update(source, { ...user, display_name: `Changed ${user.email}` })),
      ...users.slice(30).map((user) => remove(source, user)),
    ]);
    await eventually(async () => (await count()) === 30 && (await count(`name LIKE 'Changed %'`)) === 10, 60_000, 'the later writes');
    present = await stateHash();
    expect(present).not.toBe(past);
  });

  afterAll(async () => {
    await projector?.stop();
    await replays?.close();
    await target?.drop();
  });

  it('refuses while the projector runs', async () => {
    await expect(replays.replay({ projection: 'users', to: `lsn:${formatLsn(pastLsn)}`, operator: 'bob' })).rejects.toThrow(ReplayRefusedError);
    await stopProjector();
  });

  it('a dry run counts what the pipeline would apply and quarantine, and writes nothing', async () => {
    const result = await replays.replay({ projection: 'users', to: `lsn:${formatLsn(pastLsn)}`, operator: 'bob', dryRun: true });
    expect(result).toMatchObject({ dryRun: true, eventsApplied: 40, eventsQuarantined: 1, backupId: null, state: null });
    expect(await stateHash()).toBe(present);
  });

  it('rebuilds the projection as it was at the position, keeps the replaced state as a backup, and restores it', async () => {
    const result = await replays.replay({ projection: 'users', to: `lsn:${formatLsn(pastLsn)}`, operator: 'bob' });
    expect(result).toMatchObject({ dryRun: false, eventsApplied: 40, eventsQuarantined: 1 });
    expect(result.state!.hash).toBe(past);
    expect(await stateHash()).toBe(past);
    const checkpoints = await targetQuery(target.url, `SELECT "offset"::text AS o FROM tandem.checkpoints WHERE projection = 'users'`);
    expect(checkpoints.map((c) => c.o)).toEqual(['40']); // the last record inside the cut (the 41st)

    const backup = (await replays.listBackups('users')).find((b) => b.id === result.backupId);
    expect(backup).toMatchObject({ kind: 'replay', operator: 'bob', present: true, restoredAt: null });
    const restored = await replays.restore(result.backupId!, 'bob');
    expect(restored.restored.restoredAt).not.toBeNull();
    expect(await stateHash()).toBe(present);
    await expect(replays.restore(result.backupId!, 'bob')).rejects.toThrow(/no longer there/);
  });

  it('a replay that fails leaves the live state and records the failure', async () => {
    await expect(replays.replay({ projection: 'users', to: `offsets:${name}.${source}#0=999`, operator: 'bob' })).rejects.toThrow(/does not hold the position/);
    expect(await stateHash()).toBe(present);
    const [last] = await targetQuery(target.url, `SELECT status, reason FROM tandem.replays ORDER BY id DESC LIMIT 1`);
    expect(last.status).toBe('failed');
    expect(last.reason).toMatch(/wanted offset 999/);
  });
});
