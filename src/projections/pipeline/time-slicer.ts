/**
 * Cuts CPU work on the event loop into slices: `pause()` lets other callbacks run (the round trips
 * of a chunk being written) once the work has run `sliceMs` since the last pause.
 */
export class TimeSlicer {
  private sliceStart = Date.now();

  constructor(private readonly sliceMs: number) {}

  async pause(): Promise<void> {
    if (Date.now() - this.sliceStart < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.restart();
  }

  /** After a wait: the next slice starts now. */
  restart(): void {
    this.sliceStart = Date.now();
  }
}
