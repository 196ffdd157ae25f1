import { applyEnvironment, validateConfig } from '../../src/modules/config/load-config';
import { ConfigError } from '../../src/shared/errors';
import { RECIPES } from '../../src/projections/recipes';
import { closestName } from '../../src/shared/closest-name';

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
    expect(config.capture.maxBatchBytes).toBe(8 * 1024 * 1024);
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
    expect(config.target?.preparedStatements).toBe(true);
  });

  it('accepts every recipe of the registry, and names them all when one is unknown', () => {
    for (const recipe of Object.keys(RECIPES)) {
      expect(validateConfig({ ...valid(), projections: [{ recipe }] }, 'tandem.yaml').projections[0]).toEqual({
        recipe,
        sourceSchema: 'public',
      });
    }
    expect(() => validateConfig({ ...valid(), projections: [{ recipe: 'orders' }] }, 'tandem.yaml')).toThrow(
      'projections.0.recipe: Invalid option: expected one of "users"|"app-state"|"knowledge-base"|"memory"|"chat"',
    );
  });

  it('refuses an unknown key at every level, naming it and the closest known key', () => {
    const raw = valid() as Record<string, any>;
    raw.source.snapshot = { chunksize: 100 };
    raw.projection = [{ recipe: 'users' }];
    raw.kafka.topicprefix = 'x';
    raw.capture = { maxBatchEvent: 10 };
    raw.admin = { wholly: 'unrelated' };
    const message = (() => {
      try {
        validateConfig(raw, 'tandem.yaml');
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(message).toContain('source.snapshot: unknown key "chunksize" (did you mean "chunkSize"?)');
    expect(message).toContain('(root): unknown key "projection" (did you mean "projections"?)');
    expect(message).toContain('kafka: unknown key "topicprefix" (did you mean "topicPrefix"?)');
    expect(message).toContain('capture: unknown key "maxBatchEvent" (did you mean "maxBatchEvents"?)');
    expect(message).toContain('admin: unknown key "wholly"');
    expect(message).not.toMatch(/wholly"? \(did you mean/);
  });

  it('refuses an unknown key inside list entries (projections)', () => {
    const raw = { ...valid(), projections: [{ recipe: 'users', sourceschema: 'legacy' }] };
    expect(() => validateConfig(raw, 'f')).toThrow(
      /projections\.0: unknown key "sourceschema" \(did you mean "sourceSchema"\?\)/,
    );
  });

  it('refuses a source URL that does not parse, without printing it', () => {
    const raw = valid();
    raw.source.url = 'postgres://app:s3cret@db:port/legacy';
    expect(() => validateConfig(raw, 'f')).toThrow(/source\.url: is not a valid URL/);
    expect(() => validateConfig(raw, 'f')).not.toThrow(/s3cret/);
  });
});

describe('closestName', () => {
  it('suggests the known name a typo most likely meant, and nothing for an unrelated word', () => {
    expect(closestName('chunksize', ['mode', 'chunkSize', 'parallelism'])).toBe('chunkSize');
    expect(closestName('projection', ['source', 'projections', 'projector'])).toBe('projections');
    expect(closestName('brokrs', ['brokers', 'topicPrefix'])).toBe('brokers');
    expect(closestName('wholly', ['port', 'host', 'tokensFile'])).toBeNull();
  });
});
