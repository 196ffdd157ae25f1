import { TandemProcess } from './capture-process';
import { targetQuery, type createTargetDatabase } from './target-db';

type TargetDatabase = Awaited<ReturnType<typeof createTargetDatabase>>;
import { dropSlot, eventually, sql } from './services';
import { loadConfig } from '../../src/modules/config/load-config';
import type { Logger } from '../../src/shared/logger';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { FailbackService } from '../../src/modules/failback/failback.service';

/**
 * A committed cutover with forward capture and the projector running in this process, and failback's
 * capture and applier as separate `tandem failback start --only …` processes that can be killed.
 */
export class CommittedCutover {
  private readonly children: TandemProcess[] = [];
  private capture?: CaptureService;
  private captureRun?: Promise<void>;
  private projector?: ProjectionService;
  cutoverId = 0;

  constructor(
    private readonly name: string,
    private readonly file: string,
    private readonly target: TargetDatabase,
    private readonly logger: Logger,
  ) {}

  /** Capture and project until `projected` holds, then plan, start and commit a cutover. */
  async commit(projected: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
    const config = loadConfig(this.file, {});
    this.capture = new CaptureService(config, this.logger);
    this.captureRun = this.capture.run();
    this.captureRun.catch(() => undefined);
    await eventually(async () => this.capture!.status().role === 'streaming', 60_000, 'capture streaming');
    this.projector = new ProjectionService(config, this.logger);
    await this.projector.start();
    await eventually(projected, timeoutMs, what);
    const cutovers = new CutoverService(config, this.logger);
    try {
      const planned = await cutovers.plan({ operator: 'alice' });
      await cutovers.start(planned.cutover.id, { operator: 'alice' });
      this.cutoverId = (await cutovers.commit(planned.cutover.id, { operator: 'alice' })).id;
    } finally {
      await cutovers.close();
    }
  }

  /** Runs `write(1..writes)` against the target while failback runs; kill -9 of capture after 100, of the applier after 200. */
  async writeThroughKills(writes: number, write: (i: number) => Promise<unknown>): Promise<void> {
    let captureChild = this.failback('capture');
    let applyChild = this.failback('apply');
    await captureChild.waitForLog(/streaming changes/, 120_000);
    await applyChild.waitForLog(/failback applier running/, 120_000);
    for (let i = 1; i <= writes; i++) {
      await write(i);
      if (i === 100) {
        await captureChild.kill9();
        captureChild = this.failback('capture');
      }
      if (i === 200) {
        await applyChild.kill9();
        applyChild = this.failback('apply');
      }
    }
  }

  async tearDown(): Promise<void> {
    for (const child of this.children) await child.stop().catch(() => undefined);
    const failback = new FailbackService(loadConfig(this.file, {}), this.logger);
    await failback.end(this.cutoverId).catch(() => undefined);
    await failback.close();
    await this.projector?.stop();
    await this.capture?.stop();
    await this.captureRun?.catch(() => undefined);
    await dropSlot(this.name);
    await sql(`ALTER ROLE ${this.name}_app RESET ALL`).catch(() => undefined);
    await sql(`DROP ROLE IF EXISTS ${this.name}_app`).catch(() => undefined);
    await this.target.drop();
  }

  async targetCount(table: string): Promise<number> {
    return Number((await targetQuery(this.target.url, `SELECT count(*) AS n FROM ${table}`))[0].n);
  }

  private failback(part: 'capture' | 'apply'): TandemProcess {
    const child = new TandemProcess(['failback', 'start', '--config', this.file, '--only', part, '--operator', 'alice']);
    this.children.push(child);
    return child;
  }
}

/** How many times each number occurs: every write must be in the failback topic exactly once. */
export function occurrences(numbers: number[]): Map<number, number> {
  const seen = new Map<number, number>();
  for (const n of numbers) seen.set(n, (seen.get(n) ?? 0) + 1);
  return seen;
}

/**
 * Forward capture (slot `slot`), running the whole time, has read past every write made so far and
 * produced nothing to its topic since `endsBefore` (`forwardEnds()`): failback's writes do not bounce back.
 */
export async function expectForwardSilent(slot: string, forwardEnds: () => Promise<string>, endsBefore: string): Promise<void> {
  const [{ lsn }] = await sql('SELECT pg_current_wal_lsn()::text AS lsn');
  await eventually(
    async () => (await sql(`SELECT confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1`, [slot, lsn]))[0]?.ok,
    30_000,
    'forward capture past the failback writes',
  );
  expect(await forwardEnds()).toBe(endsBefore);
}

/** Where a failback stands, for a wait that timed out: what each part did and what is still behind. */
export async function failbackState(failback: FailbackService, cutoverId: number): Promise<string> {
  const lag = await failback.readLag(cutoverId).catch((error: Error) => `lag unreadable: ${error.message}`);
  return `failback status: ${JSON.stringify(failback.status())}\nfailback lag: ${JSON.stringify(lag)}`;
}
