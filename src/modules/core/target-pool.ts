import { Pool } from 'pg';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { ConfigError } from '../../shared/errors';
import { namePoolEndpoint } from '../../shared/endpoint';
import { markWritesOf } from '../../connectors/postgres-target/write-origin';
import { unnamedStatementsFor } from '../../connectors/postgres-target/prepared-statements';
import { failbackNames } from '../../contracts/failback-names';

export function targetPool(config: TandemConfig, logger?: Logger): Pool {
  if (!config.target) throw new ConfigError('target.url: required to run projections (or set TANDEM_TARGET_URL)');
  const pool = namePoolEndpoint(
    new Pool({ connectionString: config.target.url, max: 8, application_name: 'tandem-projector' }),
    'target',
    config.target.url,
  );
  // A connection that breaks while idle in the pool (the target restarted) is dropped and replaced by
  // the pool; without a listener its 'error' event would crash the process. Queries in flight still
  // fail and are handled by their callers (the projector applies the batch again; rows are LSN-guarded).
  pool.on('error', (error) => logger?.warn({ err: error }, 'an idle target connection failed; the pool opens a new one'));
  if (!config.target.preparedStatements) pool.on('connect', (session) => unnamedStatementsFor(session));
  if (config.failback) {
    // with failback, the projector's writes are marked so that failback capture does not send them back to legacy
    markWritesOf(pool, failbackNames(config.kafka.topicPrefix, config.source.slot, config.source.publication).projectorOrigin);
  }
  return pool;
}

/** The legacy database's pool for reads and short statements (capture's replication sessions are its own). */
export function sourcePool(config: TandemConfig, logger?: Logger): Pool {
  const pool = namePoolEndpoint(
    new Pool({ connectionString: config.source.url, max: 4, application_name: 'tandem' }),
    'source',
    config.source.url,
  );
  pool.on('error', (error) => logger?.warn({ err: error }, 'an idle source connection failed; the pool opens a new one'));
  return pool;
}
