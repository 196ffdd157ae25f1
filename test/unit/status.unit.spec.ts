import { StatusSampler } from '../../src/modules/status/status-sampler';
import { StatusService } from '../../src/modules/status/status.service';
import { partitionLag } from '../../src/modules/status/status-model';
import { formatBytes, renderStatus } from '../../src/modules/status/status.render';
import type {
  CheckpointReading,
  PipelineReading,
  SlotReading,
  StatusReaders,
} from '../../src/modules/status/status-readers';
import { tandemConfigSchema } from '../../src/modules/config/config.schema';
import { createLogger } from '../../src/shared/logger';
import { statusServiceForServer } from '../../src/modules/admin/status/status-for-server';

const T0 = Date.parse('2026-11-22T10:00:00Z');

const slot = (over: Partial<SlotReading> = {}): SlotReading => ({
  slot: 'tandem_slot',
  publication: 'tandem_pub',
  currentWalLsn: '0/3000',
  slotFound: true,
  active: true,
  confirmedFlushLsn: '0/2000',
  restartLsn: '0/1000',
  flushLagSeconds: null,
  ...over,
});

const checkpoint = (partition: number, offset: bigint, updatedAt = new Date(T0)): CheckpointReading => ({
  topic: 'legacy.public.users',
  partition,
  offset,
  commitLsn: 0x2000n + offset,
  updatedAt,
});

function reading(seconds: number, over: Partial<PipelineReading> = {}): PipelineReading {
  return {
    at: new Date(T0 + seconds * 1000),
    slot: slot(),
    captureTopics: [{ topic: 'legacy.public.users', partition: 0, low: 0n, end: 1000n }],
    kafka: { reachable: true, error: null },
    projections: [],
    reconciliations: [],
    cutover: null,
    ...over,
  };
}

describe('status: source slot', () => {
  it('reports lag and retained WAL in bytes and the slot state', () => {
    const status = new StatusSampler().record(reading(0));
    expect(status.source).toEqual([
      {
        slot: 'tandem_slot',
        publication: 'tandem_pub',
        state: 'streaming',
        lagBytes: 0x1000,
        lagSeconds: 0, // active, and the walsender reports no flush lag: caught up
        retainedWalBytes: 0x2000,
        confirmedFlushLsn: '0/2000',
        eventsPerSecond: null, // one read: no rate yet
      },
    ]);
    expect(new StatusSampler().record(reading(0, { slot: slot({ active: false }) })).source[0].state).toBe(
      'idle',
    );
    const missing = new StatusSampler().record(
      reading(0, {
        slot: slot({ slotFound: false, active: false, confirmedFlushLsn: null, restartLsn: null }),
      }),
    ).source[0];
    expect(missing).toMatchObject({
      state: 'missing',
      lagBytes: null,
      lagSeconds: null,
      retainedWalBytes: null,
    });
  });

  it('derives events per second from the change topics between samples of the window', () => {
    const sampler = new StatusSampler(15 * 60_000, { rateWindowMs: 60_000, stallAfterMs: 60_000 });
    sampler.record(reading(0));
    sampler.record(
      reading(10, { captureTopics: [{ topic: 'legacy.public.users', partition: 0, low: 0n, end: 1500n }] }),
    );
    const status = sampler.record(
      reading(20, { captureTopics: [{ topic: 'legacy.public.users', partition: 0, low: 0n, end: 3000n }] }),
    );
    expect(status.source[0].eventsPerSecond).toBe(100); // (3000 - 1000) / 20 s
  });

  it('takes the source lag in seconds from the newest sample whose WAL position the slot has confirmed since', () => {
    const sampler = new StatusSampler();
    const idle = { active: false };
    sampler.record(
      reading(0, { slot: slot({ ...idle, currentWalLsn: '0/2000', confirmedFlushLsn: '0/1000' }) }),
    );
    sampler.record(
      reading(5, { slot: slot({ ...idle, currentWalLsn: '0/3000', confirmedFlushLsn: '0/1800' }) }),
    );
    const status = sampler.record(
      reading(12, { slot: slot({ ...idle, currentWalLsn: '0/4000', confirmedFlushLsn: '0/2000' }) }),
    );
    expect(status.source[0].lagSeconds).toBe(12); // the WAL of t=0 is confirmed, that of t=5 is not
    const stopped = new StatusSampler().record(reading(0, { slot: slot({ active: false }) }));
    expect(stopped.source[0].lagSeconds).toBeNull(); // nobody attached and no history: unknown, not 0
  });

  it('prefers the walsender flush lag when it is smaller than what the samples bound', () => {
    const sampler = new StatusSampler();
    sampler.record(reading(0, { slot: slot({ currentWalLsn: '0/2000' }) }));
    const status = sampler.record(reading(30, { slot: slot({ flushLagSeconds: 1.5 }) }));
    expect(status.source[0].lagSeconds).toBe(1.5);
  });
});

describe('status: projections', () => {
  const ends = [
    { topic: 'legacy.public.users', partition: 0, low: 0n, end: 102n },
    { topic: 'legacy.public.users', partition: 1, low: 0n, end: 52n },
    { topic: 'legacy.public.users', partition: 2, low: 0n, end: 0n },
  ];
  const projection = (checkpoints: CheckpointReading[], count = 0) => ({
    name: 'users',
    ends,
    checkpoints,
    quarantine: {
      count,
      newest: count
        ? [{ id: 7, reason: 'email: invalid e-mail address', at: new Date(T0).toISOString() }]
        : [],
    },
  });

  it('counts lag per partition behind the commit marker that ends a transactional partition', () => {
    expect(partitionLag(ends[0], 100n)).toBe(0); // 101 is the marker
    expect(partitionLag(ends[0], 90n)).toBe(10);
    expect(partitionLag(ends[0], null)).toBe(102);
    expect(partitionLag(ends[2], null)).toBe(0);
  });

  it('is caught up once every partition reached end − 2, with its checkpoint LSN and quarantine', () => {
    const status = new StatusSampler().record(
      reading(0, { projections: [projection([checkpoint(0, 100n), checkpoint(1, 50n)], 1)] }),
    );
    expect(status.projections[0]).toEqual({
      projection: 'users',
      state: 'caught-up',
      lagEvents: 0,
      lagSeconds: 0,
      eventsPerSecond: null,
      checkpointLsn: '0/2064',
      partitions: [
        { topic: 'legacy.public.users', partition: 0, offset: 100, endOffset: 102, lag: 0 },
        { topic: 'legacy.public.users', partition: 1, offset: 50, endOffset: 52, lag: 0 },
        { topic: 'legacy.public.users', partition: 2, offset: -1, endOffset: 0, lag: 0 },
      ],
      quarantined: 1,
      newestQuarantineReasons: [
        { id: 7, reason: 'email: invalid e-mail address', at: '2026-11-22T10:00:00.000Z' },
      ],
    });
  });

  it('is not started without checkpoints, running while it moves, stalled when it stops moving with lag', () => {
    const sampler = new StatusSampler(15 * 60_000, { rateWindowMs: 60_000, stallAfterMs: 60_000 });
    expect(sampler.record(reading(0, { projections: [projection([])] })).projections[0]).toMatchObject({
      state: 'not-started',
      lagEvents: 154,
      lagSeconds: null,
    });

    const moving = sampler.record(
      reading(10, { projections: [projection([checkpoint(0, 40n, new Date(T0 + 10_000))])] }),
    );
    expect(moving.projections[0]).toMatchObject({ state: 'running', lagEvents: 60 + 52, lagSeconds: 0 });
    const faster = sampler.record(
      reading(20, {
        projections: [
          projection([checkpoint(0, 80n, new Date(T0 + 20_000)), checkpoint(1, 19n, new Date(T0 + 20_000))]),
        ],
      }),
    );
    expect(faster.projections[0].eventsPerSecond).toBe(5.05); // 81 + 20 records since the oldest sample of the window, 20 s ago

    const later = new Date(T0 + 20_000);
    const stuck = [checkpoint(0, 80n, later), checkpoint(1, 19n, later)];
    sampler.record(reading(150, { projections: [projection(stuck)] }));
    const stalled = sampler.record(reading(200, { projections: [projection(stuck)] }));
    expect(stalled.projections[0]).toMatchObject({
      state: 'stalled',
      lagEvents: 20 + 31,
      lagSeconds: 180,
      eventsPerSecond: 0,
    });
  });

  it('gives no rate when the applied count went backwards (a replay reset the checkpoints)', () => {
    const sampler = new StatusSampler();
    sampler.record(reading(0, { projections: [projection([checkpoint(0, 100n)])] }));
    expect(
      sampler.record(reading(10, { projections: [projection([checkpoint(0, 10n)])] })).projections[0]
        .eventsPerSecond,
    ).toBeNull();
  });

  it('keeps samples and chart points for its horizon only', () => {
    const sampler = new StatusSampler(60_000);
    for (const seconds of [0, 30, 61, 90]) sampler.record(reading(seconds));
    expect(sampler.history().map((p) => p.at)).toEqual(
      [30, 61, 90].map((s) => new Date(T0 + s * 1000).toISOString()),
    );
    expect(sampler.span()).toBe(60_000);
  });
});

describe('StatusService', () => {
  it('reads the configured slot, capture topics and each projection through its readers', async () => {
    const config = tandemConfigSchema.parse({
      source: {
        url: 'postgres://app:s3cret@legacy/app',
        slot: 's1',
        publication: 'p1',
        tables: ['public.auth_users'],
      },
      kafka: { brokers: ['k:9092'], topicPrefix: 'legacy' },
      target: { url: 'postgres://tandem@new/app' },
      projections: [{ recipe: 'users' }],
    });
    const asked: string[][] = [];
    const readers: StatusReaders = {
      source: {
        readSlot: async (name, publication) => slot({ slot: name, publication }),
      },
      topics: {
        endOffsets: async (topics) => {
          asked.push(topics);
          return topics.map((topic) => ({ topic, partition: 0, low: 0n, end: 10n }));
        },
        close: async () => undefined,
      },
      state: {
        checkpoints: async () => [
          {
            topic: 'legacy.public.auth_users',
            partition: 0,
            offset: 8n,
            commitLsn: 5n,
            updatedAt: new Date(),
          },
        ],
        quarantine: async () => ({ count: 2, newest: [] }),
        lastReconciliations: async (projections) => [
          {
            id: 3,
            projection: projections[0],
            verdict: 'PASS',
            mismatchRatio: 0,
            sourceLsn: '0/1',
            finishedAt: new Date(T0).toISOString(),
          },
        ],
        latestCutover: async () => null,
      },
    };
    const service = new StatusService(config, createLogger('test', 'silent'), readers);
    const status = await service.read();
    await service.close();
    expect(status.source[0]).toMatchObject({ slot: 's1', publication: 'p1' });
    // one read of Kafka covers the capture topics and every projection's topics
    expect(asked).toHaveLength(1);
    expect(asked[0]).toEqual(
      expect.arrayContaining([
        'legacy.public.auth_users',
        'legacy.import.nakamoto_users',
        'legacy.import.tenant_mapping',
      ]),
    );
    expect(status.projections[0]).toMatchObject({
      projection: 'users',
      quarantined: 2,
      state: 'running',
      lagEvents: 10 + 10,
    });
    expect(status.lastReconciliations[0]).toMatchObject({ projection: 'users', verdict: 'PASS' });
    expect(service.history()).toHaveLength(1);
  });
});

describe('tandem status table', () => {
  it('shows each slot and projection on one line, quarantine reasons and the cutover', () => {
    const status = new StatusSampler().record(
      reading(0, {
        projections: [
          {
            name: 'users',
            ends: [{ topic: 'legacy.public.users', partition: 0, low: 0n, end: 12n }],
            checkpoints: [checkpoint(0, 10n)],
            quarantine: {
              count: 1,
              newest: [{ id: 7, reason: 'email:\n invalid', at: new Date(T0).toISOString() }],
            },
          },
        ],
        reconciliations: [
          {
            id: 3,
            projection: 'users',
            verdict: 'FAIL',
            mismatchRatio: 0.0125,
            sourceLsn: '0/10',
            finishedAt: '2026-11-22T09:00:00.000Z',
          },
        ],
        cutover: {
          id: 4,
          state: 'frozen',
          freezeLsn: '0/3000',
          operator: 'alice',
          updatedAt: '2026-11-22T09:30:00.000Z',
          history: [],
        },
      }),
    );
    const lines = renderStatus(status).split('\n');
    expect(lines).toContainEqual(
      expect.stringMatching(/^tandem_slot\s+tandem_pub\s+streaming\s+4\.0 KiB\s+0\s+–\s+0\/2000\s+8\.0 KiB$/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^users\s+caught-up\s+0\s+0\s+–\s+0\/200A\s+1\s+FAIL #3 \(1\.250 % at 0\/10, 2026-11-22T09:00:00\.000Z\)$/,
      ),
    );
    expect(lines).toContain('  users quarantine #7 2026-11-22T10:00:00.000Z: email: invalid');
    expect(lines).toContain(
      'cutover #4: frozen (operator alice, 2026-11-22T09:30:00.000Z, freeze LSN 0/3000)',
    );
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});

describe('the status page’s rates (tandem serve)', () => {
  afterEach(() => jest.useRealTimers());

  it('shows 0 events/s for a projection that has been idle for a few samples, as the CLI does', async () => {
    jest.useFakeTimers({ now: T0, doNotFake: ['nextTick', 'setImmediate'] });
    const config = tandemConfigSchema.parse({
      source: { url: 'postgres://legacy/app', tables: ['public.auth_users'] },
      kafka: { brokers: ['k:9092'], topicPrefix: 'legacy' },
      target: { url: 'postgres://new/app' },
      projections: [{ recipe: 'users' }],
    });
    let applied = -1n;
    const readers: StatusReaders = {
      source: { readSlot: async () => slot() },
      topics: {
        endOffsets: async (topics) => topics.map((topic) => ({ topic, partition: 0, low: 0n, end: 1002n })),
        close: async () => undefined,
      },
      state: {
        checkpoints: async () => [
          { topic: 'legacy.public.auth_users', partition: 0, offset: applied, commitLsn: 5n, updatedAt: new Date(T0) },
        ],
        quarantine: async () => ({ count: 0, newest: [] }),
        lastReconciliations: async () => [],
        latestCutover: async () => null,
      },
    };
    const service = statusServiceForServer(config, createLogger('test', 'silent'), readers);
    await service.read();
    jest.setSystemTime(T0 + 2000);
    applied = 999n; // 1,000 events applied in 2 s, then nothing more
    expect((await service.read()).projections[0].eventsPerSecond).toBe(500);
    for (let seconds = 4; seconds <= 12; seconds += 2) {
      jest.setSystemTime(T0 + seconds * 1000);
      await service.read();
    }
    // a minute's average would still say 1,000 / 12 s = 83.3 events/s
    expect((await service.read()).projections[0].eventsPerSecond).toBe(0);
    await service.close();
  });
});
