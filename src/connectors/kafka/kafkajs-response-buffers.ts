interface ConnectionInternals {
  chunks: Buffer[];
  processData(rawData: Buffer): unknown;
}

/** A leftover this small is copied out of the response buffer it is a view of (usually 0 bytes). */
const COPIED_LEFTOVER_BYTES = 64 * 1024;

/**
 * kafkajs 2.2.4 keeps the bytes after a response (usually none) as a view on that response's
 * buffer until the next response arrives, so a fetch response (up to the consumer's maxBytes) stays
 * in memory while the next one is received and concatenated: three fetches' worth at the peak. This
 * copies a small leftover out, so the response buffer is freed once its records are handled.
 */
export function installResponseBufferRelease(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Connection = require('kafkajs/src/network/connection') as { prototype: ConnectionInternals & { releasesResponses?: boolean } };
  const prototype = Connection.prototype;
  if (prototype.releasesResponses) return;
  const processData = prototype.processData;
  prototype.processData = function (this: ConnectionInternals, rawData: Buffer) {
    const result = processData.call(this, rawData);
    const [leftover] = this.chunks ?? [];
    if (this.chunks?.length === 1 && leftover.length <= COPIED_LEFTOVER_BYTES && leftover.buffer.byteLength > leftover.length)
      this.chunks[0] = Buffer.from(leftover);
    return result;
  };
  prototype.releasesResponses = true;
}
