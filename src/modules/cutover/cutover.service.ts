import { describeVerdict } from '../reconciliation/verdict';
import { connectNamed } from '../../shared/endpoint';
import { Client, type Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { ConfigError, CutoverGateError } from '../../shared/errors';
import { createKafka } from '../../connectors/kafka/kafka-client';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { loadCheckpoints } from '../../connectors/postgres-target/checkpoint-store';
import { topicsOf, type ProjectionDefinition } from '../../projections/framework/define-projection';
import { advanceSequences } from '../../connectors/postgres-target/sequences';
import { resolveProjectionDefinitions, targetPool } from '../projection/projection.service';
import { ReconciliationService } from '../reconciliation/reconciliation.service';
import { copyToBackup } from '../replay/schema-ops';
import { describeLag, lagging } from './drain-gate';
import { endOffsets } from '../../connectors/kafka/offsets';
import { drainToFreeze } from './drain';
import { currentLsn, freezeRoles, frozenRoles, missingRoles, slotConfirmedLsn, unfreezeRoles } from './legacy-freeze';
import { audit } from '../../connectors/postgres-target/operator-audit';
import { prepareFailback } from './failback-setup';


export type CutoverState = 'parallel' | 'frozen' | 'drained' | 'verified' | 'committed' | 'aborted';
const ACTIVE: CutoverState[] = ['parallel', 'frozen', 'drained', 'verified'];

export interface CutoverRecord {
  id: number;
  state: CutoverState;
  projections: string[];
  applicationRoles: string[];
  freezeLsn: string | null;
  /** Per projection, per "topic#partition": the last applied offset at the freeze position. */
  offsets: Record<string, Record<string, string>> | null;
  reconciliationIds: number[] | null;
  backupIds: number[] | null;
  operator: string;
  reason: string | null;
  history: Array<{ state: string; at: string; operator: string; reason?: string }>;
  plannedAt: string;
  frozenAt: string | null;
  drainedAt: string | null;
  verifiedAt: string | null;
  committedAt: string | null;
  abortedAt: string | null;
  /** freeze → commit (or → abort), in milliseconds. */
  freezeWindowMs: number | null;
}

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
 * `tandem cutover`: a recorded state machine over tandem.cutovers,
 * parallel → frozen → drained → verified → committed (or → aborted). A failed gate or an abort
 * unfreezes the legacy database; every transition is recorded with its operator.
 */
export class CutoverService {
  private readonly pool: Pool;
  private kafkaClient: Kafka | null = null;

  constructor(
    private readonly config: TandemConfig,
    private readonly logger: Logger,
  ) {
    this.pool = targetPool(config);
  }

  private get kafka(): Kafka {
    this.kafkaClient ??= createKafka(this.config.kafka, `${this.config.kafka.clientId}-cutover`, this.logger);
    return this.kafkaClient;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private roles(): string[] {
    const roles = this.config.cutover?.applicationRoles ?? [];
    if (roles.length === 0) throw new ConfigError('cutover.applicationRoles: list the legacy application roles whose writes the freeze refuses');
    return roles;
  }

  private async withSource<T>(work: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({ connectionString: this.config.source.url, application_name: 'tandem-cutover' });
    await connectNamed(client, 'source', this.config.source.url);
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  /** Records a new cutover in state parallel after checking what can be checked without freezing. */
  async plan(options: CutoverOptions & { projection?: string }): Promise<{ cutover: CutoverRecord; checks: string[] }> {
    const { definitions, roles, checks } = await this.planChecks(options);
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO tandem.cutovers (state, projections, application_roles, operator, history)
       VALUES ('parallel', $1, $2, $3, jsonb_build_array(jsonb_build_object('state', 'parallel', 'at', now(), 'operator', $3::text)))
       RETURNING id`,
      [definitions.map((d) => d.name), roles, options.operator],
    );
    const id = Number(rows[0].id);
    await audit(this.pool, options.operator, 'cutover.plan', `cutover:${id}`, { checks });
    return { cutover: await this.get(id), checks };
  }

  /** The plan's checks alone, recording nothing (tandem cutover plan --dry-run). */
  async checkPlan(options: { projection?: string }): Promise<string[]> {
    return (await this.planChecks(options)).checks;
  }

  private async planChecks(options: { projection?: string }): Promise<{ definitions: ProjectionDefinition<unknown>[]; roles: string[]; checks: string[] }> {
    await ensureTandemSchema(this.pool);
    const roles = this.roles();
    const definitions = await resolveProjectionDefinitions(this.config, options.projection, this.pool);
    if (definitions.length === 0) throw new ConfigError('projections: a cutover needs at least one projection');
    const active = await this.pool.query<{ id: string; state: string }>('SELECT id, state FROM tandem.cutovers WHERE state = ANY($1)', [ACTIVE]);
    if (active.rows.length > 0) {
      throw new CutoverGateError(`cutover ${active.rows[0].id} is still ${active.rows[0].state}: commit or abort it first`);
    }
    const checks: string[] = [];
    await this.withSource(async (client) => {
      const missing = await missingRoles(client, roles);
      if (missing.length > 0) throw new CutoverGateError(`plan: application role(s) ${missing.join(', ')} do not exist in the legacy database`);
      checks.push(`application roles present: ${roles.join(', ')}`);
      const slot = await slotConfirmedLsn(client, this.config.source.slot);
      if (slot === null) throw new CutoverGateError(`plan: replication slot ${this.config.source.slot} does not exist: is capture running?`);
      checks.push(`replication slot ${this.config.source.slot} confirmed up to ${slot}`);
    });
    for (const definition of definitions) {
      const behind = lagging(await endOffsets(this.kafka, this.topicsOf(definition)), await loadCheckpoints(this.pool, definition.name));
      checks.push(behind.length === 0 ? `${definition.name}: caught up` : `lagging now (fine before the freeze): ${describeLag(definition.name, behind)}`);
      if (!definition.reconcile || definition.reconcile.length === 0) {
        throw new CutoverGateError(`plan: projection ${definition.name} has no reconciliation, so the verified gate could never pass`);
      }
    }
    return { definitions, roles, checks };
  }

  /**
   * Freeze, then the drained and verified gates; stops in state verified, or with `commit` goes on to
   * commit in the same process (the freeze window is then the drain, the verification and the commit,
   * without a second command's start-up in it).
   */
  async start(id: number | undefined, options: CutoverOptions & { commit?: boolean }): Promise<CutoverRecord> {
    const cutover = await this.resolve(id);
    if (cutover.state !== 'parallel') throw new CutoverGateError(`cutover ${cutover.id} is ${cutover.state}; start needs a planned (parallel) cutover`);
    const definitions = (await resolveProjectionDefinitions(this.config, undefined, this.pool)).filter((d) => cutover.projections.includes(d.name));
    try {
      await this.withSource(async (client) => {
        // frozen
        const terminated = await freezeRoles(client, cutover.applicationRoles);
        const lsn = await currentLsn(client);
        await this.transition(cutover.id, 'frozen', options.operator, { freeze_lsn: lsn, frozen_at: 'now()' }, undefined, { terminated });
        this.logger.info({ cutover: cutover.id, freezeLsn: lsn, terminatedSessions: terminated }, 'legacy writes frozen');

        // drained
        const offsets = await drainToFreeze({
          source: client,
          target: this.pool,
          kafka: this.kafka,
          slot: this.config.source.slot,
          projections: definitions.map((d) => ({ name: d.name, topics: this.topicsOf(d) })),
          freezeLsn: lsn,
          timeoutMs: options.drainTimeoutMs ?? 60_000,
        });
        await this.transition(cutover.id, 'drained', options.operator, { drained_at: 'now()', offsets: JSON.stringify(offsets) });

        // verified
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
    const reconciliation = new ReconciliationService(this.config, this.logger);
    const reports = [];
    for (const projection of cutover.projections)
      reports.push(
        ...(await reconciliation.run({ projection, threshold: options.threshold ?? 0, acceptQuarantined: options.acceptQuarantined, drainedTo: freezeLsn, drainedOffsets })),
      );
    const ids = reports.map((report) => report.id!);
    const failed = reports.filter((report) => report.verdict !== 'PASS');
    if (failed.length > 0) {
      await this.pool.query('UPDATE tandem.cutovers SET reconciliation_ids = $2 WHERE id = $1', [cutover.id, ids]);
      throw new CutoverGateError(
        `verified gate: ${failed
          .map((r) => `reconciliation ${r.id} of ${r.projection} is ${describeVerdict(r)}`)
          .join('; ')}`,
      );
    }
    await this.transition(cutover.id, 'verified', options.operator, { verified_at: 'now()', reconciliation_ids: ids });
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
    const definitions = (await resolveProjectionDefinitions(this.config, undefined, this.pool)).filter((d) => cutover.projections.includes(d.name));
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
    await this.transition(cutover.id, 'committed', options.operator, {
      committed_at: 'now()',
      backup_ids: backupIds,
      freeze_window_ms: '(EXTRACT(EPOCH FROM (now() - frozen_at)) * 1000)::bigint',
    });
    const committed = await this.get(cutover.id);
    this.logger.info({ cutover: cutover.id, freezeWindowMs: committed.freezeWindowMs }, 'cutover committed');
    return committed;
  }

  async abort(id: number | undefined, options: CutoverOptions & { reason?: string }): Promise<CutoverRecord> {
    const cutover = await this.resolve(id);
    if (!ACTIVE.includes(cutover.state)) throw new CutoverGateError(`cutover ${cutover.id} is ${cutover.state}; only an active cutover can be aborted`);
    await this.abortWith(cutover.id, options.operator, options.reason ?? 'aborted by the operator');
    return this.get(cutover.id);
  }

  private async abortWith(id: number, operator: string, reason: string): Promise<void> {
    const cutover = await this.get(id);
    await this.withSource((client) => unfreezeRoles(client, cutover.applicationRoles));
    await this.transition(
      id,
      'aborted',
      operator,
      { aborted_at: 'now()', freeze_window_ms: 'CASE WHEN frozen_at IS NULL THEN NULL ELSE (EXTRACT(EPOCH FROM (now() - frozen_at)) * 1000)::bigint END' },
      reason,
    );
    this.logger.warn({ cutover: id, reason }, 'cutover aborted; legacy writes unfrozen');
  }

  /** The latest cutover when no id is given. */
  async resolve(id?: number): Promise<CutoverRecord> {
    if (id !== undefined) return this.get(id);
    await ensureTandemSchema(this.pool);
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM tandem.cutovers ORDER BY id DESC LIMIT 1');
    if (rows.length === 0) throw new CutoverGateError('no cutover recorded yet: run tandem cutover plan');
    return this.get(Number(rows[0].id));
  }

  async get(id: number): Promise<CutoverRecord> {
    await ensureTandemSchema(this.pool);
    const { rows } = await this.pool.query('SELECT *, freeze_lsn::text AS freeze_lsn FROM tandem.cutovers WHERE id = $1', [id]);
    if (rows.length === 0) throw new CutoverGateError(`no cutover ${id}`);
    const r = rows[0];
    const iso = (value: Date | null) => (value ? value.toISOString() : null);
    return {
      id: Number(r.id),
      state: r.state,
      projections: r.projections,
      applicationRoles: r.application_roles,
      freezeLsn: r.freeze_lsn,
      offsets: r.offsets,
      reconciliationIds: r.reconciliation_ids?.map(Number) ?? null,
      backupIds: r.backup_ids?.map(Number) ?? null,
      operator: r.operator,
      reason: r.reason,
      history: r.history,
      plannedAt: iso(r.planned_at)!,
      frozenAt: iso(r.frozen_at),
      drainedAt: iso(r.drained_at),
      verifiedAt: iso(r.verified_at),
      committedAt: iso(r.committed_at),
      abortedAt: iso(r.aborted_at),
      freezeWindowMs: r.freeze_window_ms === null ? null : Number(r.freeze_window_ms),
    };
  }

  /**
   * Moves to `state`; `set` holds column values, where "now()" and parenthesised/CASE expressions are
   * SQL (written by this class only), anything else a parameter.
   */
  private async transition(
    id: number,
    state: CutoverState,
    operator: string,
    set: Record<string, unknown>,
    reason?: string,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    const values: unknown[] = [id, state, operator, reason ?? null];
    const assignments = Object.entries(set).map(([column, value]) => {
      if (typeof value === 'string' && (value === 'now()' || value.startsWith('(') || value.startsWith('CASE'))) return `${column} = ${value}`;
      values.push(value);
      return `${column} = $${values.length}`;
    });
    await this.pool.query(
      `UPDATE tandem.cutovers SET state = $2, reason = COALESCE($4, reason), ${assignments.join(', ')},
              history = history || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object('state', $2::text, 'at', now(), 'operator', $3::text, 'reason', $4::text)))
        WHERE id = $1`,
      values,
    );
    await audit(this.pool, operator, `cutover.${state}`, `cutover:${id}`, { ...set, ...details, ...(reason ? { reason } : {}) });
  }

  private topicsOf(definition: ProjectionDefinition<unknown>): string[] {
    return topicsOf(definition, this.config.kafka.topicPrefix);
  }
}

