export interface PieceBudgetOptions {
  /** A transaction carrying a piece should take at most this many times the stream's own. */
  factor: number;
  floorMs: number;
  /** Rows of a piece: bounds and first size. */
  min: number;
  max: number;
  start: number;
  /** One transaction in this many (with streamed records) is left to the stream alone. */
  pieceFreeEvery: number;
  /** The stream is behind when its lag exceeds this many times its lag without a backfill (and lagFloorMs). */
  lagFactor: number;
  lagFloorMs: number;
  /** At most this many transactions in a row go without a piece because the stream is behind. */
  maxYields: number;
}

/**
 * How many backfill rows ride in capture's next Kafka transaction. Capture commits one transaction at
 * a time, so a streamed event waits for the one in flight and then for its own: the stream's latency
 * follows the time a transaction takes. A backfill keeps that time within `factor` times what the
 * stream's own transactions take (measured, so it holds on an idle machine and on a loaded one, where
 * a commit takes ten times longer) by sizing its pieces within [min, max]. And it gives way when the
 * stream falls behind (its lag, source commit to capture, above `lagFactor` times what it is without
 * a backfill): on a machine short of CPU the backfill's reading and encoding would otherwise delay
 * the stream's decoding, whatever the transactions' size. Giving way is bounded (maxYields), so a
 * backfill always moves on.
 */
export class PieceBudget {
  private records: number;
  /** Smoothed duration of transactions without a piece (the stream's own); null until one is seen. */
  private streamMs: number | null = null;
  /** Smoothed stream lag while no backfill is pending; null until one is seen. */
  private lagMs: number | null = null;
  private sincePieceFree = 0;
  private yields = 0;

  constructor(private readonly options: PieceBudgetOptions) {
    this.records = options.start;
  }

  /** The time a transaction carrying a piece should take. */
  targetMs(): number {
    return this.streamMs === null ? this.options.floorMs : Math.max(this.options.floorMs, this.options.factor * this.streamMs);
  }

  /** The stream's lag (ms from the source's commit of its newest transaction) with no backfill pending. */
  observeLag(lagMs: number): void {
    this.lagMs = this.lagMs === null ? lagMs : 0.9 * this.lagMs + 0.1 * lagMs;
  }

  /**
   * Backfill rows for the next transaction when `streamed` streamed records are already in it and
   * the stream lags `lagMs` behind the source, or 0 for a transaction left to the stream alone.
   */
  rows(streamed: number, lagMs: number | null = null): number {
    if (streamed > 0 && this.behind(lagMs) && this.yields < this.options.maxYields) {
      this.yields += 1;
      return 0;
    }
    this.yields = 0;
    // One in pieceFreeEvery keeps the measure of the stream's own transactions current.
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

  private behind(lagMs: number | null): boolean {
    if (lagMs === null || this.lagMs === null) return false;
    return lagMs > Math.max(this.options.lagFloorMs, this.options.lagFactor * this.lagMs);
  }
}
