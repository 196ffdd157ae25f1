import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { grants, loadAdminTokens } from '../../src/modules/admin/auth/admin-tokens';
import { describeError } from '../../src/modules/admin/http/error.filter';
import { ConfigError } from '../../src/shared/errors';

const OP = 'operator-token-0123456789';
const VIEW = 'viewer-token-0123456789';

describe('admin tokens', () => {
  it('maps each token to its name and role, and nothing else', () => {
    const tokens = loadAdminTokens({ TANDEM_ADMIN_TOKENS: `alice:operator:${OP}, bob:viewer:${VIEW}` });
    expect(tokens.authenticate(OP)).toEqual({ name: 'alice', role: 'operator' });
    expect(tokens.authenticate(VIEW)).toEqual({ name: 'bob', role: 'viewer' });
    expect(tokens.authenticate(`${OP}x`)).toBeNull();
    expect(tokens.authenticate('')).toBeNull();
  });

  it('lets operator do what viewer does, not the reverse', () => {
    expect(grants('operator', 'viewer')).toBe(true);
    expect(grants('operator', 'operator')).toBe(true);
    expect(grants('viewer', 'viewer')).toBe(true);
    expect(grants('viewer', 'operator')).toBe(false);
  });

  it('reads TANDEM_VIEWER_TOKEN, TANDEM_OPERATOR_TOKEN and a tokens file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-tokens-'));
    const file = join(dir, 'tokens.yaml');
    writeFileSync(file, `tokens:\n  - { name: ci, role: viewer, token: ci-token-0123456789abc }\n`);
    const tokens = loadAdminTokens({ TANDEM_VIEWER_TOKEN: VIEW, TANDEM_OPERATOR_TOKEN: OP }, file);
    expect(tokens.principals).toEqual([
      { name: 'viewer', role: 'viewer' },
      { name: 'operator', role: 'operator' },
      { name: 'ci', role: 'viewer' },
    ]);
    expect(tokens.authenticate('ci-token-0123456789abc')).toEqual({ name: 'ci', role: 'viewer' });
  });

  it('refuses a missing or bad configuration naming the field, never the token', () => {
    expect(() => loadAdminTokens({})).toThrow(ConfigError);
    expect(() => loadAdminTokens({})).toThrow(/TANDEM_ADMIN_TOKENS/);
    expect(() => loadAdminTokens({ TANDEM_ADMIN_TOKENS: 'a:operator:short' })).toThrow(
      /^TANDEM_ADMIN_TOKENS\[0\]\.token: must be at least 16/,
    );
    expect(() => loadAdminTokens({ TANDEM_ADMIN_TOKENS: `a:root:${OP}` })).toThrow(
      /TANDEM_ADMIN_TOKENS\[0\]\.role/,
    );
    expect(() => loadAdminTokens({ TANDEM_ADMIN_TOKENS: `a:viewer:${VIEW},a:operator:${OP}` })).toThrow(
      /"a" is used twice/,
    );
    expect(() => loadAdminTokens({ TANDEM_ADMIN_TOKENS: `a:viewer:${VIEW},b:operator:${VIEW}` })).toThrow(
      /same token/,
    );
    const refusal = (() => {
      try {
        loadAdminTokens({ TANDEM_OPERATOR_TOKEN: 'secret value' });
        return 'accepted';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(refusal).toMatch(/^TANDEM_OPERATOR_TOKEN\.token/);
    expect(refusal).not.toContain('secret value');
    expect(() => loadAdminTokens({}, '/nonexistent/tokens.yaml')).toThrow(/admin\.tokensFile/);
  });
});

describe('admin API error responses', () => {
  it('never carry a connection string, and hide unexpected errors entirely', () => {
    const config = describeError(
      new ConfigError('target.url: cannot reach postgres://app:hunter2@db:5432/app'),
    );
    expect(config.statusCode).toBe(400);
    expect(config.error).not.toMatch(/hunter2|postgres:\/\//);
    const unexpected = describeError(
      new Error('connect ECONNREFUSED postgres://app:hunter2@db:5432/app\n    at Socket.x (net.js:1:1)'),
    );
    expect(unexpected).toEqual({ statusCode: 500, error: 'internal error: see the tandem serve log' });
  });
});
