import { Writable } from 'stream';
import { createLogger } from '../../src/shared/logger';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger('test', 'info', stream) };
}

describe('logger', () => {
  const url = 'postgres://app:s3cret-pw@db:5432/app';

  it('writes one JSON object per line with level, name and message', () => {
    const { lines, logger } = capture();
    logger.info({ slot: 'tandem_slot' }, 'streaming changes');
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'info',
      name: 'test',
      slot: 'tandem_slot',
      msg: 'streaming changes',
    });
  });

  it('never prints a password, whether in the message, a field, a nested field or an error', () => {
    const { lines, logger } = capture();
    logger.info(`connecting to ${url}`);
    logger.info({ url, source: { url }, password: 's3cret-pw' }, 'fields');
    logger.warn(
      { kafka: { broker: 'k:9092', detail: { text: `failed for ${url}` } }, list: [url] },
      'nested',
    );
    logger.error({ err: new Error(`connect ${url} refused`) }, 'error');
    logger.error({ cause: new Error(`no route to ${url}`) }, 'any error field');
    logger.child({ module: 'x', target: url }).info('child bindings');
    logger
      .child({ module: 'x' })
      .child({ source: { url: `${url}?sslmode=require`, note: url } })
      .info('grandchild bindings');
    expect(lines).toHaveLength(7);
    for (const line of lines) expect(line).not.toContain('s3cret-pw');
    expect(JSON.parse(lines[2]).kafka.detail.text).toBe('failed for postgres://app:***@db:5432/app');
  });
});
