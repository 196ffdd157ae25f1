import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { ConfigError } from '../../shared/errors';
import { parseLsn } from '../../shared/lsn';
import { currentLsn, freezeRoles, unfreezeRoles } from '../cutover/legacy-freeze';
import { endOffsets } from '../../connectors/kafka/offsets';
import { audit } from '../../connectors/postgres-target/operator-audit';
import { FailbackRefusedError } from '../../shared/errors';
import { withClient } from '../cutover/failback-setup';
import { cutoverSummary, failbackStore, type FailbackRecord } from '../../connectors/postgres-target/failback-repository';
import { ReconciliationService } from '../reconciliation/reconciliation.service';
import type { FailbackService } from './failback.service';
import { behindRecords, failbackTopics, readSlotLag } from './failback-lag';

export interface RollbackOptions {
  operator: string;
  /** How long the drain waits for failback to reach the freeze position (default 60 s). */
  drainTimeoutMs?: number;
}

/**
 * `tandem rollback --cutover ID` with failback: the mirror image of the cutover's gates. Refused
 * while failback lags; then the new application's roles are frozen in the target, failback is
 * drained to that freeze position, target → legacy is reconciled, and the legacy application's
 * roles are unfrozen. Any failure unfreezes the target and changes nothing else.
 */
export async function rollbackThroughFailback(
  service: FailbackService,
  config: TandemConfig,
  logger: Logger,
  cutoverId: number | undefined,
  options: RollbackOptions,
): Promise<FailbackRecord> {
  const pool = service.targetPool;
  const record = await service.record(cutoverId);
  if (record.state !== 'active') throw new FailbackRefusedError(`rollback: the failback of cutover ${record.cutoverId} is ${record.state}`);
  const targetRoles = config.failback?.applicationRoles ?? [];
  if (targetRoles.length === 0) throw new ConfigError("failback.applicationRoles: list the new application's roles in the target, whose writes a rollback freezes");
  const cutover = (await cutoverSummary(pool, record.cutoverId))!;

  const lag = await service.readLag(record.cutoverId);
  const behind = lag.projections.reduce((sum, p) => sum + p.behindRecords, 0);
  if (!lag.slot.active) throw new FailbackRefusedError(`rollback: failback capture is not running (slot ${record.slot} inactive): run tandem failback start`);
  const maxLag = config.failback?.maxLagRecords ?? 1000;
  if (behind > maxLag) throw new FailbackRefusedError(`rollback: failback lags ${behind} records behind the target (more than failback.maxLagRecords ${maxLag}): wait for it to catch up`);

  const frozenAt = Date.now();
  const freezeLsn = await withClient(config.target!.url, async (client) => {
    await freezeRoles(client, targetRoles);
    return currentLsn(client);
  });
  logger.info({ cutover: record.cutoverId, freezeLsn }, 'target writes frozen for rollback');
  let ended: FailbackRecord;
  const details: Record<string, unknown> = { operator: options.operator, freezeLsn };
  try {
    await drain(service, record, freezeLsn, options.drainTimeoutMs ?? 60_000);
    details.drainedMs = Date.now() - frozenAt;
    const reports = [];
    const reconciliation = new ReconciliationService(config, logger, service.resources);
    for (const projection of record.projections) reports.push(...(await reconciliation.run({ projection, threshold: 0, direction: 'failback' })));
    details.reconciliationIds = reports.map((r) => r.id);
    const failed = reports.filter((report) => report.verdict !== 'PASS');
    if (failed.length > 0) {
      throw new FailbackRefusedError(`rollback: verified gate: ${failed.map((r) => `reconciliation ${r.id} of ${r.projection} (failback) is ${r.verdict}`).join('; ')}`);
    }
    // failback ends here (its slot would hold WAL); a running `failback start` stops with it
    ended = await service.end(record.cutoverId, 'rolled-back', details);
  } catch (error) {
    await withClient(config.target!.url, (client) => unfreezeRoles(client, targetRoles));
    await audit(pool, options.operator, 'failback.rollback', `cutover:${record.cutoverId}`, details, { outcome: 'failed', error: (error as Error).message });
    throw error instanceof FailbackRefusedError ? error : new FailbackRefusedError(`rollback failed: ${(error as Error).message}`, { cause: error });
  }
  await withClient(config.source.url, (client) => unfreezeRoles(client, cutover.applicationRoles));
  details.freezeWindowMs = Date.now() - frozenAt;
  await failbackStore.finish(pool, record.cutoverId, 'rolled-back', details);
  await audit(pool, options.operator, 'failback.rollback', `cutover:${record.cutoverId}`, details);
  logger.info({ cutover: record.cutoverId, ...details }, 'rolled back: the legacy application writes again');
  return { ...ended, rollback: details };
}

/** Until failback capture confirmed the freeze LSN, then until the legacy checkpoints cover the failback topics' ends. */
async function drain(service: FailbackService, record: FailbackRecord, freezeLsn: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const waitFor = async (done: () => Promise<boolean>, what: () => string) => {
    while (!(await done())) {
      if (Date.now() > deadline) throw new FailbackRefusedError(`rollback: drained gate: ${what()} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  let confirmed: string | null = null;
  await waitFor(
    async () => {
      confirmed = (await readSlotLag(service.targetPool, record.slot)).confirmedLsn;
      return confirmed !== null && parseLsn(confirmed) >= parseLsn(freezeLsn);
    },
    () => `failback capture has not confirmed the freeze LSN ${freezeLsn} (slot ${record.slot} at ${confirmed ?? 'missing'})`,
  );
  for (const definition of await service.definitionsOf(record)) {
    const ends = await endOffsets(service.kafka, failbackTopics(service.names, definition));
    let left = 0;
    await waitFor(
      async () => (left = await behindRecords(service.legacyPool, service.names.checkpointName(definition.name), ends)) === 0,
      () => `${definition.name}: ${left} failback records not applied to legacy`,
    );
  }
}
