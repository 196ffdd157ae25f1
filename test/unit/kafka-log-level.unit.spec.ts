import { logLevel } from '../../src/connectors/kafka/kafkajs';
import { kafkaLogLevel } from '../../src/connectors/kafka/kafka-client';

describe('kafkajs log levels', () => {
  it('keeps answers kafkajs retries as part of normal operation out of the error level', () => {
    // after every commit the coordinator answers the next transaction this way for a few ms
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Response AddPartitionsToTxn(key: 24, version: 1)', {
        error:
          'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
      }),
    ).toBeNull();
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Response FindCoordinator(key: 10, version: 2)', {
        error: 'The coordinator is loading and hence can not process requests',
      }),
    ).toBeNull();
  });

  it('reports an unreachable broker as a warning, and real errors as errors', () => {
    expect(kafkaLogLevel(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092', {})).toBe('warn');
    expect(
      kafkaLogLevel(logLevel.ERROR, 'Response Produce(key: 0, version: 7)', {
        error: 'The broker received an out of order sequence number',
      }),
    ).toBe('error');
    expect(kafkaLogLevel(logLevel.WARN, 'something odd', {})).toBe('warn');
  });
});
