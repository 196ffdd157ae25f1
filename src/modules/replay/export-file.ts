import { createWriteStream, type WriteStream } from 'fs';
import type { LogRecord } from '../../contracts/positions';

/** A rollback's export: every event after the position, as JSON lines. */
export class ExportFile {
  private readonly stream: WriteStream;

  constructor(path: string) {
    this.stream = createWriteStream(path, { flags: 'w' });
  }

  async write(projection: string, records: LogRecord[]): Promise<void> {
    for (const record of records) {
      const line = JSON.stringify({
        projection,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset.toString(),
        key: record.key === null ? null : safeParse(record.key),
        value: record.value === null ? null : safeParse(record.value),
      });
      if (!this.stream.write(`${line}\n`))
        await new Promise<void>((resolve) => this.stream.once('drain', () => resolve()));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    });
  }

  destroy(): void {
    this.stream.destroy();
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
