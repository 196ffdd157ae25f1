import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { withoutConnectionStrings } from '../../../shared/redact';
import { audit } from '../../../connectors/postgres-target/operator-audit';
import type { Principal } from '../auth/admin-tokens';
import { InvalidRequestError } from './zod-validation.pipe';
import type { Job, JobRegistry } from '../jobs/job-registry';

export const TARGET_POOL = Symbol('TARGET_POOL');

const SECRET_KEY = /password|secret|token|url|dsn/i;

/** A destructive route runs only when its body repeats, in `confirm`, the subject it acts on. */
export function requireConfirmation(confirm: string | boolean | undefined, subject: string): void {
  if (confirm === subject) return;
  throw new InvalidRequestError('body', [
    { path: 'confirm', message: `must be "${subject}" (the subject this action changes) to confirm it` },
  ]);
}

/** Runs an operator action and records it in tandem.operator_audit: who (token name), what, parameters, outcome. */
@Injectable()
export class AuditedActions {
  constructor(@Inject(TARGET_POOL) private readonly pool: Pool) {}

  async run<T>(
    caller: Principal,
    action: string,
    subject: string,
    parameters: Record<string, unknown>,
    work: () => Promise<T>,
  ): Promise<T> {
    const details = Object.fromEntries(
      Object.entries(parameters).filter(([key]) => !SECRET_KEY.test(key) && key !== 'confirm'),
    );
    let result: T;
    try {
      result = await work();
    } catch (error) {
      const message = withoutConnectionStrings(error instanceof Error ? error.message : String(error));
      await audit(this.pool, caller.name, `api.${action}`, subject, details, {
        outcome: 'failed',
        error: message,
      });
      throw error;
    }
    await audit(this.pool, caller.name, `api.${action}`, subject, details, { outcome: 'ok' });
    return result;
  }

  /** run() for a destructive route: refused at once unless the body's `confirm` repeats the subject. */
  confirmed<T>(
    caller: Principal,
    action: string,
    subject: string,
    body: Record<string, unknown> & { confirm?: string | boolean },
    work: () => Promise<T>,
  ): Promise<T> {
    requireConfirmation(body.confirm, subject);
    return this.run(caller, action, subject, body, work);
  }

  /** run() as a job (202; GET /api/jobs/{id} gives its result): for an action that can outlast the request. */
  job(jobs: JobRegistry, caller: Principal, action: string, subject: string, parameters: Record<string, unknown>, work: () => Promise<unknown>): Job {
    return jobs.start(caller.name, action, subject, () => this.run(caller, action, subject, parameters, work));
  }
}
