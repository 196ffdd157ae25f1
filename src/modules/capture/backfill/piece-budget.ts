/**
 * How many backfill rows ride in capture's next Kafka transaction. Capture commits one transaction at
 * a time, so a streamed event waits for the one in flight and then for its own: the stream's latency
 * follows the time a transaction takes. A backfill keeps that time within `factor` times what the
 * stream's own transactions take (measured, so it holds on an idle machine and on a loaded one, where
 * a commit takes ten times longer), never below `floorMs`, by sizing its pieces: the size follows the
 * commits as they are measured (the load and the rows' width change it), within [min, max].
 */
export class PieceBudget {
  private records: number;
  /** Smoothed duration of transactions without a piece (the stream's own); null until one is seen. */
  private streamMs: number | null = null;
  private sincePieceFree = 0;

  constructor(
    private readonly options: { factor: number; floorMs: number; min: number; max: number; start: number; pieceFreeEvery: number },
  ) {
    this.records = options.start;
  }

  /** The rows of a piece at the current size. */
  size(): number {
    return Math.round(this.records);
  }

  /** The time a transaction carrying a piece should take. */
  targetMs(): number {
    return this.streamMs === null ? this.options.floorMs : Math.max(this.options.floorMs, this.options.factor * this.streamMs);
  }

  /**
   * Backfill rows for the next transaction when `streamed` streamed records are already in it, or 0
   * for a transaction left to the stream alone: one in `pieceFreeEvery` while `streamed` > 0, which
   * keeps the measure of the stream's own transactions current during a long backfill.
   */
  rows(streamed: number): number {
    if (streamed > 0 && ++this.sincePieceFree >= this.options.pieceFreeEvery) {
      this.sincePieceFree = 0;
      return 0;
    }
    return Math.max(this.options.min, Math.round(this.records) - streamed);
  }

  /** A transaction committed in `ms`: `records` records in all, `pieceRows` of them a backfill's (0: none). */
  observe(records: number, pieceRows: number, ms: number): void {
    if (pieceRows === 0) {
      this.streamMs = this.streamMs === null ? ms : 0.8 * this.streamMs + 0.2 * ms;
      return;
    }
    const step = Math.min(1.5, Math.max(0.5, this.targetMs() / Math.max(1, ms)));
    this.records = Math.min(this.options.max, Math.max(this.options.min, records * step));
  }
}
