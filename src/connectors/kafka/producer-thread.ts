import { join } from 'path';
import { Worker, type Transferable } from 'worker_threads';
import type { Logger } from '../../shared/logger';
import type { PositionRecord, RecordCommitter } from './transactional-producer';
import type { ProducedRecord } from '../../contracts/positions';
import { PackedRecords } from './packed-records';
import type {
  ProducerThreadReply,
  ProducerThreadRequest,
  ProducerThreadSetup,
  SerializedError,
} from './producer-thread-protocol';
import { commitMessage } from './producer-thread-protocol';

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
  onProgress?: (sent: number) => void;
}

/**
 * A TransactionalProducer on a worker thread. kafkajs encodes every record in JavaScript (varints,
 * CRC-32C, murmur2); on the capture's event loop that work alternated with decoding the replication
 * stream, so one core did both. On its own thread the encoding of one Kafka transaction overlaps the
 * decoding of the next batch. The semantics are the TransactionalProducer's: one commit at a time,
 * in the order asked, each all or nothing.
 */
export class ThreadedTransactionalProducer implements RecordCommitter {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exitError: Error | null = null;

  constructor(
    setup: ProducerThreadSetup,
    private readonly logger: Logger,
  ) {
    this.worker = startWorker(setup);
    this.worker.on('message', (reply: ProducerThreadReply) => this.receive(reply));
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) =>
      this.failAll(new Error(`the Kafka producer thread exited (code ${code})`)),
    );
  }

  connect(): Promise<void> {
    return this.request((id) => ({ request: { id, kind: 'connect' }, transfer: [] }));
  }

  async disconnect(): Promise<void> {
    try {
      if (!this.exitError) await this.request((id) => ({ request: { id, kind: 'disconnect' }, transfer: [] }));
    } finally {
      await this.worker.terminate();
    }
  }

  commit(
    records: readonly ProducedRecord[] | PackedRecords,
    position?: PositionRecord,
    onProgress?: (sent: number) => void,
  ): Promise<void> {
    return this.request((id) => commitMessage(id, records, position), onProgress);
  }

  private request(
    message: (id: number) => { request: ProducerThreadRequest; transfer: Transferable[] },
    onProgress?: (sent: number) => void,
  ): Promise<void> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      const { request, transfer } = message(id);
      this.worker.postMessage(request, transfer);
    });
  }

  private receive(reply: ProducerThreadReply): void {
    if (reply.kind === 'log') {
      if (reply.level === 'error') this.logger.error({ kafka: reply.extra }, reply.message);
      else this.logger.warn({ kafka: reply.extra }, reply.message);
      return;
    }
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    if (reply.kind === 'progress') {
      pending.onProgress?.(reply.sent);
      return;
    }
    this.pending.delete(reply.id);
    if (reply.kind === 'done' && reply.spare) PackedRecords.recycle(reply.spare);
    if (reply.kind === 'done') pending.resolve();
    else pending.reject(deserializeError(reply.error));
  }

  private failAll(error: Error): void {
    this.exitError ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/**
 * The worker runs the same kind of code as this file: compiled JavaScript next to it, or under ts-node
 * (development, tests) the TypeScript, compiled the same way. ts-node is resolved from here, not from
 * the working directory (an eval'd worker resolves modules from there: `tandem` started in another
 * folder could not find it).
 */
function startWorker(setup: ProducerThreadSetup): Worker {
  if (__filename.endsWith('.js'))
    return new Worker(join(__dirname, 'producer-worker.js'), { workerData: setup });
  const source = join(__dirname, 'producer-worker.ts');
  const project = join(__dirname, '..', '..', '..', 'tsconfig.json');
  const tsNode = require.resolve('ts-node');
  return new Worker(
    `require(${JSON.stringify(tsNode)}).register({ transpileOnly: true, project: ${JSON.stringify(project)} }); require(${JSON.stringify(source)});`,
    { eval: true, workerData: setup },
  );
}

function deserializeError(serialized: SerializedError): Error {
  const error = new Error(serialized.message);
  error.name = serialized.name;
  return Object.assign(
    error,
    serialized.retriable === undefined ? {} : { retriable: serialized.retriable },
    serialized.type === undefined ? {} : { type: serialized.type },
  );
}
