import './producer-worker-setup';
import { parentPort, workerData } from 'worker_threads';
import { createKafka, type KafkaLogSink } from './kafka-client';
import { TransactionalProducer } from './transactional-producer';
import type {
  ProducerThreadReply,
  ProducerThreadRequest,
  ProducerThreadSetup,
  SerializedError,
} from './producer-thread-protocol';
import { recordsOf } from './producer-thread-protocol';
import { memoryOf } from './packed-records';

// The body of ThreadedTransactionalProducer's worker thread: requests are served one at a time, in order.
const port = parentPort!;
const setup = workerData as ProducerThreadSetup;
const reply = (message: ProducerThreadReply) => port.postMessage(message);

const forwardingLogger: KafkaLogSink = {
  error: ({ kafka }, message) => reply({ kind: 'log', level: 'error', message, extra: cloneable(kafka) }),
  warn: ({ kafka }, message) => reply({ kind: 'log', level: 'warn', message, extra: cloneable(kafka) }),
};

/** Log fields as plain data: postMessage refuses functions and class instances. */
function cloneable(fields: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(fields)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const producer = new TransactionalProducer(
  createKafka(setup.connection, setup.clientId, forwardingLogger),
  setup.transactionalId,
);

let queue: Promise<void> = Promise.resolve();
port.on('message', (request: ProducerThreadRequest) => {
  queue = queue.then(() => serve(request));
});

async function serve(request: ProducerThreadRequest): Promise<void> {
  try {
    if (request.kind === 'connect') await producer.connect();
    else if (request.kind === 'disconnect') await producer.disconnect();
    else {
      await producer.commit(recordsOf(request), request.position, (sent) =>
        reply({ kind: 'progress', id: request.id, sent }),
      );
      // Committed: nothing reads the batch's memory any more; it goes back for the next batches.
      const spare = memoryOf(request.records);
      return port.postMessage({ kind: 'done', id: request.id, spare } satisfies ProducerThreadReply, [spare.bytes, spare.index]);
    }
    reply({ kind: 'done', id: request.id });
  } catch (error) {
    reply({ kind: 'failed', id: request.id, error: serializeError(error) });
  }
}

function serializeError(error: unknown): SerializedError {
  const { name, message, retriable, type } = error as Error & { retriable?: unknown; type?: unknown };
  return {
    name: typeof name === 'string' ? name : 'Error',
    message: typeof message === 'string' ? message : String(error),
    ...(typeof retriable === 'boolean' ? { retriable } : {}),
    ...(typeof type === 'string' ? { type } : {}),
  };
}
