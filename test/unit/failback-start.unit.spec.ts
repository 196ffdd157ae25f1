import { validateConfig } from '../../src/modules/config/load-config';
import { FailbackService } from '../../src/modules/failback/failback.service';
import { FailbackRefusedError } from '../../src/shared/errors';
import { createLogger } from '../../src/shared/logger';
import { prepareTargetCapture } from '../../src/connectors/postgres-target/failback-target-capture';

// the target's state as `tandem failback start` reads it: a committed cutover of two projections
jest.mock('../../src/connectors/postgres-target/tandem-schema', () => ({
  ...jest.requireActual('../../src/connectors/postgres-target/tandem-schema'),
  ensureTandemSchema: jest.fn(async () => undefined),
}));
jest.mock('../../src/connectors/postgres-target/failback-repository', () => ({
  ...jest.requireActual('../../src/connectors/postgres-target/failback-repository'),
  cutoverSummary: jest.fn(async () => ({ id: 3, state: 'committed', projections: ['knowledge-base', 'users'], applicationRoles: ['app'] })),
}));
jest.mock('../../src/connectors/postgres-target/failback-target-capture', () => ({ prepareTargetCapture: jest.fn() }));

describe('tandem failback start', () => {
  it('refuses a committed cutover with a projection that has no inverse, by its name, and prepares nothing', async () => {
    const config = validateConfig(
      {
        source: { url: 'postgres://u@127.0.0.1:1/legacy', tables: ['public.kb_documents', 'public.auth_users'] },
        kafka: { brokers: ['127.0.0.1:1'], topicPrefix: 'app' },
        target: { url: 'postgres://u@127.0.0.1:1/target' },
        failback: {},
        projections: [{ recipe: 'knowledge-base' }, { recipe: 'users' }],
      },
      'test',
    );
    const service = new FailbackService(config, createLogger('test', 'silent'));
    try {
      const refused = service.prepare(3, 'alice');
      await expect(refused).rejects.toBeInstanceOf(FailbackRefusedError);
      await expect(refused).rejects.toThrow('failback: projection(s) knowledge-base declare no inverse (invert)');
      expect(prepareTargetCapture).not.toHaveBeenCalled();
    } finally {
      await service.close();
    }
  });
});
