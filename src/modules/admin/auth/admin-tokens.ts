import { createHash, timingSafeEqual } from 'crypto';
import { readFileSync } from 'fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../../shared/errors';

export type AdminRole = 'viewer' | 'operator';

/** Who made a request: the token's name (recorded in the audit) and its role. */
export interface Principal {
  name: string;
  role: AdminRole;
}

/** operator ⊇ viewer. */
export const grants = (held: AdminRole, needed: AdminRole) => held === 'operator' || needed === 'viewer';

const MIN_TOKEN_LENGTH = 16;
const tokenEntry = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'must be 1-64 letters, digits, _ . @ or -'),
  role: z.enum(['viewer', 'operator']),
  token: z
    .string()
    .min(MIN_TOKEN_LENGTH, `must be at least ${MIN_TOKEN_LENGTH} characters`)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces or commas')
    .refine((token) => !token.includes(','), 'must be printable ASCII without spaces or commas'),
});
type TokenEntry = z.infer<typeof tokenEntry>;

const tokensFileSchema = z.object({ tokens: z.array(tokenEntry).min(1, 'list at least one token') });

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** The admin API's bearer tokens, kept as SHA-256 digests and compared in constant time. */
export class AdminTokens {
  private constructor(private readonly entries: Array<Principal & { digest: Buffer }>) {}

  static of(entries: TokenEntry[]): AdminTokens {
    return new AdminTokens(entries.map(({ name, role, token }) => ({ name, role, digest: digest(token) })));
  }

  get principals(): Principal[] {
    return this.entries.map(({ name, role }) => ({ name, role }));
  }

  /** Every stored digest is compared (no early exit), each comparison in constant time. */
  authenticate(presented: string): Principal | null {
    const candidate = digest(presented);
    let match: Principal | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(candidate, entry.digest) && match === null)
        match = { name: entry.name, role: entry.role };
    }
    return match;
  }
}

export interface TokenEnvironment {
  TANDEM_ADMIN_TOKENS?: string;
  TANDEM_VIEWER_TOKEN?: string;
  TANDEM_OPERATOR_TOKEN?: string;
}

function check(entry: unknown, field: string): TokenEntry {
  const result = tokenEntry.safeParse(entry);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ConfigError(`${field}${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`);
}

/**
 * Reads the tokens from TANDEM_ADMIN_TOKENS ("name:role:token,…"), TANDEM_VIEWER_TOKEN,
 * TANDEM_OPERATOR_TOKEN and admin.tokensFile. A bad entry stops start-up naming its field, never its token.
 */
export function loadAdminTokens(env: TokenEnvironment, tokensFile?: string): AdminTokens {
  const entries: TokenEntry[] = [];
  if (env.TANDEM_ADMIN_TOKENS !== undefined) {
    env.TANDEM_ADMIN_TOKENS.split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '')
      .forEach((item, index) => {
        const [name, role, ...rest] = item.split(':');
        entries.push(check({ name, role, token: rest.join(':') }, `TANDEM_ADMIN_TOKENS[${index}]`));
      });
  }
  if (env.TANDEM_VIEWER_TOKEN !== undefined)
    entries.push(
      check({ name: 'viewer', role: 'viewer', token: env.TANDEM_VIEWER_TOKEN }, 'TANDEM_VIEWER_TOKEN'),
    );
  if (env.TANDEM_OPERATOR_TOKEN !== undefined) {
    entries.push(
      check(
        { name: 'operator', role: 'operator', token: env.TANDEM_OPERATOR_TOKEN },
        'TANDEM_OPERATOR_TOKEN',
      ),
    );
  }
  if (tokensFile !== undefined) entries.push(...readTokensFile(tokensFile));
  if (entries.length === 0) {
    throw new ConfigError(
      'admin tokens: none configured; set TANDEM_ADMIN_TOKENS="name:role:token,…" (role viewer or operator) or admin.tokensFile',
    );
  }
  const names = new Set<string>();
  const digests = new Set<string>();
  for (const entry of entries) {
    if (names.has(entry.name)) throw new ConfigError(`admin tokens: the name "${entry.name}" is used twice`);
    names.add(entry.name);
    const hex = digest(entry.token).toString('hex');
    if (digests.has(hex))
      throw new ConfigError(`admin tokens: "${entry.name}" has the same token as another entry`);
    digests.add(hex);
  }
  return AdminTokens.of(entries);
}

function readTokensFile(path: string): TokenEntry[] {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`admin.tokensFile: cannot read ${path} as YAML (${code ?? 'parse error'})`);
  }
  const result = tokensFileSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(
      `admin.tokensFile (${path}): ${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
  }
  return result.data.tokens;
}
