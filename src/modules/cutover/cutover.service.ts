import { describeVerdict } from '../reconciliation/verdict';
import type { ClientBase } from 'pg';
import { CutoverGateError } from '../../shared/errors';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import {
  ACTIVE_CUTOVER_STATES,
  CutoverRepository,
  type CutoverChanges,
  type CutoverRecord,
  type CutoverState,
} from '../../connectors/postgres-target/cutover-repository';
import { topicsOf } from '../../projections/framework/define-projection';
import { advanceSequences } from '../../connectors/postgres-target/sequences';
import { resolveProjectionDefinitions } from '../projection/projection.service';
import { ReconciliationService } from '../reconciliation/reconciliation.service';
import { copyToBackup } from '../replay/schema-ops';
import { drainToFreeze } from './drain';
import { currentLsn, freezeRoles, frozenRoles, unfreezeRoles } from './legacy-freeze';
import { audit } from '../../connectors/postgres-target/operator-audit';
import { prepareFailback } from './failback-setup';
import { planChecks } from './cutover-plan';
import { TandemService } from '../core/tandem-resources';

export type { CutoverRecord, CutoverState };

export interface CutoverOptions {
  operator: string;
  /** tandem cutover start: how long the drained gate waits for capture and the projectors. */
  drainTimeoutMs?: number;
  /** Largest accepted reconciliation mismatch ratio (default 0: a cutover wants equality). */
  threshold?: number;
  /** The verified gate does not count quarantined rows against the threshold (recorded in the reports). */
  acceptQuarantined?: boolean;
}

/**
 * `tandem cutover`: a recorded state machine over tandem.cutovers (CutoverRepository),
 * parallel → frozen → drained → verified → committed (or → aborted). A failed gate or an abort
 * unfreezes the legacy database; every transition is recorded with its operator.
 */
export class CutoverService extends TandemService {
  private get pool() {
    return this.resources.target;
  }

  private get cutovers(): CutoverRepository {
    return new CutoverRepository(this.resources.target);
  }

  async close(): Promise<void> {
    await this.closeOwnResources();
  }

  /** Runs `work` on one connection to the legacy database (the freeze, drain and verification share it). */
  private async withSource<T>(work: (client: ClientBase) => Promise<T>): Promise<T> {
    const client = await this.resources.source.connect();
    try {
      return await work(client);
    } finally {
      client.release();
    }
  }

  private planInput() {
    return { config: this.config, target: this.pool, kafka: this.resources.kafka, withSource: this.withSource.bind(this) };
  }

  /** Records a new cutover in state parallel after checking what can be checked without freezing. */
  async plan(options: CutoverOptions & { projection?: string }): Promise<{ cutover: CutoverRecord; checks: string[] }> {
    const { definitions, roles, checks } = await planChecks(this.planInput(), options.projection);
    const id = await this.cutovers.create(definitions.map((d) => d.name), roles, options.operator);
    await audit(this.pool, options.operator, 'cutover.plan', `cutover:${id}`, { checks });
    return { cutover: await this.get(id), checks };
  }

  /** The plan's checks alone, recording nothing (tandem cutover plan --dry-run). */
  async checkPlan(options: { projection?: string }): Promise<string[]> {
    return (await planChecks(this.planInput(), options.projection)).checks;
  }

  /**
   * Freeze, then the drained and verified gates; stops in state verified, or with `commit` goes on to
   * commit in the same process (the freeze window is then the drain, the verification and the commit,
   * without a second command's start-up in it).
   */
  async start(id: number | undefined, options: CutoverOptions & { commit?: boolean }): Promise<CutoverRecord> {
    const cutover = await this.resolve(id);
    if (cutover.state !== 'parallel') throw new CutoverGateError(`cutover ${cutover.id} is ${cutover.state}; start needs a planned (parallel) cutover`);
    const definitions = await this.definitionsOf(cutover);
    try {
      await this.withSource(async (client) => {
        const terminated = await freezeRoles(client, cutover.applicationRoles);
        const lsn = await currentLsn(client);
        await this.transition(cutover.id, 'frozen', options.operator, { now: ['frozen_at'], freezeLsn: lsn }, undefined, { terminated });
        this.logger.info({ cutover: cutover.id, freezeLsn: lsn, terminatedSessions: terminated }, 'legacy writes frozen');

        const offsets = await drainToFreeze({
          source: client,
          target: this.pool,
          kafka: this.resources.kafka,
          slot: this.config.source.slot,
          projections: definitions.map((d) => ({ name: d.name, topics: topicsOf(d, this.config.kafka.topicPrefix) })),
          freezeLsn: lsn,
          timeoutMs: options.drainTimeoutMs ?? 60_000,
        });
        await this.transition(cutover.id, 'drained', options.operator, { now: ['drained_at'], offsets });

        await this.verify(cutover, lsn, offsets, options);
      });
    } catch (error) {
      const reason = error instanceof CutoverGateError ? error.message : `failed: ${(error as Error).message}`;
      await this.abortWith(cutover.id, options.operator, reason);
      throw error instanceof CutoverGateError ? error : new CutoverGateError(reason, { cause: error });
    }
    return options.commit ? this.commit(cutover.id, options) : this.get(cutover.id);
  }

  /**
   * The verified gate: reconciles every projection as of the drained freeze position (nothing is in
   * flight), only the rows changed since the last clean reconciliation when that is safe.
   */
  private async verify(cutover: CutoverRecord, freezeLsn: string, drainedOffsets: Record<string, Record<string, string>>, options: CutoverOptions): Promise<void> {
    const reconciliation = new ReconciliationService(this.config, this.logger, this.resources);
    const reports = [];
    for (const projection of cutover.projections)
      reports.push(
        ...(await reconciliation.run({ projection, threshold: options.threshold ?? 0, acceptQuarantined: options.acceptQuarantined, drainedTo: freezeLsn, drainedOffsets })),
      );
    const ids = reports.map((report) => report.id!);
    const failed = reports.filter((report) => report.verdict !== 'PASS');
    if (failed.length > 0) {
      await this.cutovers.recordReconciliations(cutover.id, ids);
      throw new CutoverGateError(
        `verified gate: ${failed.map((r) => `reconciliation ${r.id} of ${r.projection} is ${describeVerdict(r)}`).join('; ')}`,
      );
    }
    await this.transition(cutover.id, 'verified', options.operator, { now: ['verified_at'], reconciliationIds: ids });
  }

  /** Backs up every projection, then records the cutover as committed. The legacy database stays frozen. */
  async commit(id: number | undefined, options: CutoverOptions): Promise<CutoverRecord> {
    const cutover = await this.resolve(id);
    if (cutover.state !== 'verified') throw new CutoverGateError(`cutover ${cutover.id} is ${cutover.state}; commit needs a verified cutover`);
    const stillFrozen = await this.withSource((client) => frozenRoles(client, cutover.applicationRoles));
    const thawed = cutover.applicationRoles.filter((role) => !stillFrozen.includes(role));
    if (thawed.length > 0) {
      const reason = `commit gate: role(s) ${thawed.join(', ')} are no longer frozen, so the legacy database may have taken writes after the freeze`;
      await this.abortWith(cutover.id, options.operator, reason);
      throw new CutoverGateError(reason);
    }
    const definitions = await this.definitionsOf(cutover);
    for (const definition of definitions) {
      if (!definition.advanceSequencesAtCutover) continue;
      const advanced = await advanceSequences(this.pool, definition.schema);
      if (Object.keys(advanced).length > 0) this.logger.info({ projection: definition.name, sequences: advanced }, 'sequences set past the copied rows');
    }
    const backupIds: number[] = [];
    for (const definition of definitions) backupIds.push(await copyToBackup(this.pool, definition, options.operator, `before commit of cutover ${cutover.id}`));
    // Before the application switches: from here on every target write of the projections that
    // have an inverse is captured for failback (README, "Failback").
    const failback = this.config.failback?.atCommit ? await prepareFailback(this.config, this.pool, cutover, options.operator, { requireAll: false }) : null;
    if (failback) this.logger.info({ cutover: cutover.id, projections: failback.projections, startLsn: failback.startLsn }, 'failback prepared');
    await this.transition(cutover.id, 'committed', options.operator, { now: ['committed_at'], backupIds, measureFreezeWindow: true });
    const committed = await this.get(cutover.id);
    this.logger.info({ cutover: cutover.id, freezeWindowMs: committed.freezeWindowMs }, 'cutover committed');
    return committed;
  }

  async abort(id: number | undefined, options: CutoverOptions & { reason?: string }): Promise<CutoverRecord> {
    const cutover = await this.resolve(id);
    if (!ACTIVE_CUTOVER_STATES.includes(cutover.state)) throw new CutoverGateError(`cutover ${cutover.id} is ${cutover.state}; only an active cutover can be aborted`);
    await this.abortWith(cutover.id, options.operator, options.reason ?? 'aborted by the operator');
    return this.get(cutover.id);
  }

  private async abortWith(id: number, operator: string, reason: string): Promise<void> {
    const cutover = await this.get(id);
    await this.withSource((client) => unfreezeRoles(client, cutover.applicationRoles));
    await this.transition(id, 'aborted', operator, { now: ['aborted_at'], measureFreezeWindow: true }, reason);
    this.logger.warn({ cutover: id, reason }, 'cutover aborted; legacy writes unfrozen');
  }

  /** The latest cutover when no id is given. */
  async resolve(id?: number): Promise<CutoverRecord> {
    if (id !== undefined) return this.get(id);
    await ensureTandemSchema(this.pool);
    const latest = await this.cutovers.latestId();
    if (latest === null) throw new CutoverGateError('no cutover recorded yet: run tandem cutover plan');
    return this.get(latest);
  }

  async get(id: number): Promise<CutoverRecord> {
    await ensureTandemSchema(this.pool);
    const cutover = await this.cutovers.get(id);
    if (!cutover) throw new CutoverGateError(`no cutover ${id}`);
    return cutover;
  }

  private async definitionsOf(cutover: CutoverRecord) {
    return (await resolveProjectionDefinitions(this.config, undefined, this.pool)).filter((d) => cutover.projections.includes(d.name));
  }

  /** Moves to `state` and records who moved it, and why, in tandem.operator_audit. */
  private async transition(
    id: number,
    state: CutoverState,
    operator: string,
    changes: CutoverChanges,
    reason?: string,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await this.cutovers.transition(id, state, operator, changes, reason);
    await audit(this.pool, operator, `cutover.${state}`, `cutover:${id}`, { ...changes, ...details, ...(reason ? { reason } : {}) });
  }
}
