import { redactSecrets } from '../../src/shared/redact';

describe('redactSecrets', () => {
  it('removes passwords from connection URLs and key=value text', () => {
    expect(redactSecrets('connect postgres://app:s3cret@db:5432/x failed')).toBe('connect postgres://app:***@db:5432/x failed');
    expect(redactSecrets('host=db password=s3cret user=app')).toBe('host=db password=*** user=app');
    expect(redactSecrets('postgres://app@db/x')).toBe('postgres://app@db/x');
  });
});
