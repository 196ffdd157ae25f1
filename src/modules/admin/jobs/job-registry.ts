import { randomUUID } from 'crypto';
import type { Logger } from '../../../shared/logger';
import { describeError } from '../http/error.filter';

export interface Job {
  id: string;
  action: string;
  subject: string;
  operator: string;
  state: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  /** The operation's result once it succeeded. */
  result?: unknown;
  /** Why it failed, as the API would have answered it (status code and message, never a connection string). */
  error?: { statusCode: number; error: string };
}

/** How many finished jobs are kept to be polled (the oldest go first); running ones are always kept. */
const KEPT_FINISHED = 200;

/**
 * Operations that can outlast an HTTP request (reconcile, replay, cutover start) run as jobs: the
 * POST answers 202 with the job at once, GET /api/jobs/{id} shows its state and, at the end, its
 * result. Jobs live in the server's memory: a restarted server knows none of the old ones (their
 * outcome stays in tandem.operator_audit).
 */
export class JobRegistry {
  private readonly jobs = new Map<string, Job>();

  constructor(private readonly logger: Logger) {}

  start(operator: string, action: string, subject: string, work: () => Promise<unknown>): Job {
    const job: Job = {
      id: randomUUID(),
      action,
      subject,
      operator,
      state: 'running',
      startedAt: new Date().toISOString(),
      finishedAt: null,
    };
    this.jobs.set(job.id, job);
    void work().then(
      (result) => this.finish(job, { state: 'succeeded', result }),
      (error: unknown) => {
        const described = describeError(error);
        if (described.statusCode >= 500) this.logger.error({ err: error, job: job.id, action }, 'admin job failed');
        this.finish(job, { state: 'failed', error: described });
      },
    );
    return { ...job };
  }

  get(id: string): Job | undefined {
    const job = this.jobs.get(id);
    return job && { ...job };
  }

  /** Resolves when every job still running has finished (the server waits for them before it stops). */
  async settled(): Promise<void> {
    while ([...this.jobs.values()].some((job) => job.state === 'running'))
      await new Promise((resolve) => setTimeout(resolve, 50));
  }

  private finish(job: Job, outcome: Pick<Job, 'state' | 'result' | 'error'>): void {
    Object.assign(job, outcome, { finishedAt: new Date().toISOString() });
    const finished = [...this.jobs.values()].filter((j) => j.state !== 'running');
    for (const old of finished.slice(0, Math.max(0, finished.length - KEPT_FINISHED))) this.jobs.delete(old.id);
  }
}
