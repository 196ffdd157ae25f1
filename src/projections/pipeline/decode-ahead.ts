/**
 * How far decoding may run ahead of the chunk being written, in record bytes: the next chunk is
 * decoded beside the one being written only while both together stay within `maxBytes`. With no
 * chunk being written, decoding is not held back (a chunk is bounded by the chunker's own limits).
 */
export class DecodeAhead {
  private writing = 0;
  private wake: (() => void) | null = null;

  constructor(readonly maxBytes: number) {}

  /** Whether `decoded` record bytes of the next chunk fit beside the chunk being written. */
  fits(decoded: number): boolean {
    return this.writing === 0 || this.writing + decoded <= this.maxBytes;
  }

  /** Resolves once `decoded` record bytes fit (see fits). */
  async room(decoded: number): Promise<void> {
    while (!this.fits(decoded)) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  startWriting(bytes: number): void {
    this.writing = bytes;
  }

  doneWriting(): void {
    this.writing = 0;
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
