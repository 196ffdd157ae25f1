import { TestEnvironment } from 'jest-environment-node';
import type { Circus } from '@jest/types';
import { awaitedConditions } from './awaiting';

type ErrorEntry = [unknown, unknown];

/**
 * Jest's node environment, except that a test or hook exceeding jest's timeout fails naming what it
 * was awaiting (support/awaiting.ts: eventually, waitForLog, a tandem child's exit) and for how long:
 * on a slow machine the failure says which condition did not come, not only "Exceeded timeout".
 */
export default class TimeoutEnvironment extends TestEnvironment {
  private startedAt = Date.now();

  handleTestEvent(event: Circus.Event, state: Circus.State): void {
    if (event.name === 'test_fn_start' || event.name === 'hook_start') this.startedAt = Date.now();
    if (event.name !== 'test_fn_failure' && event.name !== 'hook_failure') return;
    const bare = event.error;
    if (typeof bare !== 'string' || !bare.startsWith('Exceeded timeout')) return;
    const named = `${bare}\n${this.describeAwaited()}`;
    const rename = (errors: ErrorEntry[]) => {
      for (const entry of errors) if (entry[0] === bare) entry[0] = named;
    };
    if (event.name === 'test_fn_failure') return rename(event.test.errors);
    if (event.test) rename(event.test.errors);
    forEachTest(event.describeBlock, (test) => rename(test.errors));
    rename(state.unhandledErrors as ErrorEntry[]);
  }

  private describeAwaited(): string {
    const now = Date.now();
    const pending = [...awaitedConditions(this.global)].filter((condition) => condition.since >= this.startedAt);
    if (pending.length === 0) return 'It was awaiting nothing named (support/awaiting.ts).';
    const lines = pending.map((condition) => `  - ${condition.what} (for ${((now - condition.since) / 1000).toFixed(1)} s)`);
    return `It was awaiting:\n${lines.join('\n')}`;
  }
}

function forEachTest(block: Circus.DescribeBlock | undefined, visit: (test: Circus.TestEntry) => void): void {
  for (const child of block?.children ?? []) {
    if (child.type === 'test') visit(child);
    else forEachTest(child, visit);
  }
}
