/**
 * How many backfill rows ride in capture's next Kafka transaction. Capture commits one transaction at
 * a time, so a streamed event waits for the one in flight and then for its own: the stream's latency
 * follows the time a transaction takes, and a backfill keeps it close to what it is without one by
 * sizing its pieces so that a transaction takes about `targetMs`. The size follows the commits as
 * they are measured (the machine's load and the rows' width change it), within [min, max].
 */
export class PieceBudget {
  private records: number;

  constructor(
    private readonly targetMs: number,
    private readonly min = 100,
    private readonly max = 20_000,
    start = 500,
  ) {
    this.records = start;
  }

  /** Backfill rows for the next transaction when `streamed` streamed records are already in it. */
  rows(streamed: number): number {
    return Math.max(this.min, Math.round(this.records) - streamed);
  }

  /** A transaction carrying a piece: `records` records in all, committed in `ms`. */
  observe(records: number, ms: number): void {
    const step = Math.min(1.5, Math.max(0.5, this.targetMs / Math.max(1, ms)));
    this.records = Math.min(this.max, Math.max(this.min, records * step));
  }
}
