import { applyEnvironment, validateConfig } from '../../src/modules/config/load-config';
import { ConfigError } from '../../src/shared/errors';
import { RECIPES } from '../../src/projections/recipes';

const valid = () => ({
  source: { url: 'postgres://app:s3cret@db:5432/legacy', tables: ['public.users'] },
  kafka: { brokers: ['k:9092'], topicPrefix: 'legacy' },
});

describe('configuration', () => {
  it('fills defaults', () => {
    const config = validateConfig(valid(), 'tandem.yaml');
    expect(config.source.slot).toBe('tandem_slot');
    expect(config.source.snapshot.chunkSize).toBe(5000);
    expect(config.kafka.partitions).toBe(3);
    expect(config.capture.maxBatchEvents).toBe(5000);
  });

  it('names each invalid field and its reason, without any secret', () => {
    const raw = valid() as Record<string, any>;
    raw.source.tables = ['users'];
    raw.kafka.brokers = ['nohost'];
    raw.source.slot = 'Bad-Slot';
    try {
      validateConfig(raw, 'tandem.yaml');
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toContain('source.tables.0: must be schema.table');
      expect(message).toContain('kafka.brokers.0: must be host:port');
      expect(message).toContain('source.slot:');
      expect(message).not.toContain('s3cret');
    }
  });

  it('rejects a source URL that is not postgres://', () => {
    const raw = valid();
    raw.source.url = 'mysql://root:pw@db/x';
    expect(() => validateConfig(raw, 'f')).toThrow(/source\.url: must be a postgres:\/\/ connection URL/);
  });

  it('lets the environment point at the user’s own services', () => {
    const raw = applyEnvironment(valid(), {
      TANDEM_SOURCE_URL: 'postgres://u@other/legacy',
      TANDEM_KAFKA_BROKERS: 'a:1, b:2',
      TANDEM_TARGET_URL: 'postgres://u@other/target',
    });
    const config = validateConfig(raw, 'f');
    expect(config.source.url).toBe('postgres://u@other/legacy');
    expect(config.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(config.target?.url).toBe('postgres://u@other/target');
  });

  it('accepts every recipe of the registry, and names them all when one is unknown', () => {
    for (const recipe of Object.keys(RECIPES)) {
      expect(
        validateConfig({ ...valid(), projections: [{ recipe }] }, 'tandem.yaml').projections[0].recipe,
      ).toBe(recipe);
    }
    expect(() => validateConfig({ ...valid(), projections: [{ recipe: 'orders' }] }, 'tandem.yaml')).toThrow(
      'projections.0.recipe: Invalid option: expected one of "users"|"app-state"|"knowledge-base"|"memory"|"chat"',
    );
  });
});
