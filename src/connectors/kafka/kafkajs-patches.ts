import { installLinearGrouping } from './kafkajs-linear-grouping';
import { createSendMessages } from './kafkajs-send-messages';

const SEND_MESSAGES = 'kafkajs/src/producer/sendMessages';
const MESSAGE_PRODUCER = 'kafkajs/src/producer/messageProducer';

/**
 * Puts Tandem's produce path (kafkajs-send-messages.ts) in the place of kafkajs's in the module cache.
 * kafkajs binds it when its producer module loads, so this must run before kafkajs is first loaded:
 * kafkajs.ts runs it, and every module that loads kafkajs does so through kafkajs.ts.
 */
export function installKafkajsPatches(): void {
  installLinearGrouping();
  const path = require.resolve(SEND_MESSAGES);
  if (require.cache[path]?.exports === createSendMessages) return;
  if (require.cache[require.resolve(MESSAGE_PRODUCER)]) return; // too late: assertKafkajsPatched says so
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(path);
  require.cache[path]!.exports = createSendMessages;
}

/** Refuses to produce through kafkajs's own sendMessages, which can double or lose records on a cluster. */
export function assertKafkajsPatched(): void {
  if (require.cache[require.resolve(SEND_MESSAGES)]?.exports !== createSendMessages)
    throw new Error(
      "kafkajs was loaded before Tandem's produce path was installed: load kafkajs through src/connectors/kafka/kafkajs.ts",
    );
}
