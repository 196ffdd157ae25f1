import type { ClientBase, Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import type { TandemConfig } from '../config/config.schema';
import { ConfigError, CutoverGateError } from '../../shared/errors';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { loadCheckpoints } from '../../connectors/postgres-target/checkpoint-store';
import { CutoverRepository } from '../../connectors/postgres-target/cutover-repository';
import { endOffsets } from '../../connectors/kafka/offsets';
import { topicsOf, type ProjectionDefinition } from '../../projections/framework/define-projection';
import { resolveProjectionDefinitions } from '../projection/projection.service';
import { describeLag, lagging } from './drain-gate';
import { missingRoles, slotConfirmedLsn } from './legacy-freeze';

export interface PlanInput {
  config: TandemConfig;
  target: Pool;
  kafka: Kafka;
  /** Runs `work` on a connection to the legacy database. */
  withSource: <T>(work: (client: ClientBase) => Promise<T>) => Promise<T>;
}

export interface PlanChecks {
  definitions: ProjectionDefinition<unknown>[];
  roles: string[];
  checks: string[];
}

/** The legacy application roles the freeze makes read-only (cutover.applicationRoles). */
export function applicationRoles(config: TandemConfig): string[] {
  const roles = config.cutover?.applicationRoles ?? [];
  if (roles.length === 0) throw new ConfigError('cutover.applicationRoles: list the legacy application roles whose writes the freeze refuses');
  return roles;
}

/**
 * What can be checked before a freeze: no other active cutover, the roles and the slot exist, every
 * projection has a reconciliation (else the verified gate could never pass), and how far each lags now.
 */
export async function planChecks(input: PlanInput, projection?: string): Promise<PlanChecks> {
  const { config, target } = input;
  await ensureTandemSchema(target);
  const roles = applicationRoles(config);
  const definitions = await resolveProjectionDefinitions(config, projection, target);
  if (definitions.length === 0) throw new ConfigError('projections: a cutover needs at least one projection');
  const active = await new CutoverRepository(target).active();
  if (active) throw new CutoverGateError(`cutover ${active.id} is still ${active.state}: commit or abort it first`);
  const checks: string[] = [];
  await input.withSource(async (client) => {
    const missing = await missingRoles(client, roles);
    if (missing.length > 0) throw new CutoverGateError(`plan: application role(s) ${missing.join(', ')} do not exist in the legacy database`);
    checks.push(`application roles present: ${roles.join(', ')}`);
    const slot = await slotConfirmedLsn(client, config.source.slot);
    if (slot === null) throw new CutoverGateError(`plan: replication slot ${config.source.slot} does not exist: is capture running?`);
    checks.push(`replication slot ${config.source.slot} confirmed up to ${slot}`);
  });
  for (const definition of definitions) {
    const topics = topicsOf(definition, config.kafka.topicPrefix);
    const behind = lagging(await endOffsets(input.kafka, topics), await loadCheckpoints(target, definition.name));
    checks.push(behind.length === 0 ? `${definition.name}: caught up` : `lagging now (fine before the freeze): ${describeLag(definition.name, behind)}`);
    if (!definition.reconcile || definition.reconcile.length === 0) {
      throw new CutoverGateError(`plan: projection ${definition.name} has no reconciliation, so the verified gate could never pass`);
    }
  }
  return { definitions, roles, checks };
}
