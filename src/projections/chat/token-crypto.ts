import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { ConfigError, TokenDecryptError } from '../../shared/errors';

/**
 * OAuth tokens at rest (seed 001, "Secure token handling"): the chat projection stores
 * `oauth_tokens.access_token` and `refresh_token` encrypted with AES-256-GCM, as
 * `v1:<base64 iv>:<base64 ciphertext+tag>`.
 *
 * The IV is synthetic, not random: HMAC-SHA256(ivKey, tokenId, field, plaintext) truncated to 12
 * bytes (the SIV construction). Replaying the log therefore writes byte-identical rows, so a rebuild
 * or a shadow replay compares hash-equal with the live projection, and two different plaintexts
 * never share an IV (the one thing GCM cannot survive), short of an HMAC collision.
 * The trade-off: encryption is deterministic per token and field, so equal plaintexts of the
 * same token and field give equal ciphertexts (a re-written unchanged token is recognisable as
 * unchanged); across tokens or fields they differ, because the token id and field are in the IV
 * input and in the associated data.
 *
 * The associated data binds a ciphertext to its row and column: a value copied into another
 * token's row or into the other column does not decrypt.
 *
 * The master key (TANDEM_TOKEN_KEY, 32 bytes) is never used directly: HKDF-SHA256 derives one key
 * for AES-GCM and one for the IV's HMAC. Keys live in KeyObjects, which never print their bytes.
 */
export const TOKEN_KEY_VARIABLE = 'TANDEM_TOKEN_KEY';
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type TokenField = 'access_token' | 'refresh_token';


/** Parses the 32-byte key: 64 hex characters, or base64 (standard or URL-safe, padding optional). */
export function parseTokenKey(text: string | undefined): Buffer {
  const value = text?.trim() ?? '';
  const how = `${TOKEN_KEY_VARIABLE} must be a 32-byte key: 64 hex characters, or base64 (e.g. the output of \`openssl rand -base64 32\`)`;
  if (value === '') {
    throw new ConfigError(`${TOKEN_KEY_VARIABLE}: not set; the chat recipe encrypts OAuth tokens at rest and needs it. ${how}`);
  }
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  const standard = value.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (/^[A-Za-z0-9+/]+$/.test(standard)) {
    const bytes = Buffer.from(standard, 'base64');
    if (bytes.length === 32 && bytes.toString('base64').replace(/=+$/, '') === standard) return bytes;
    bytes.fill(0);
  }
  // The message says what is wrong with the value, never what the value is.
  throw new ConfigError(`${TOKEN_KEY_VARIABLE}: not a valid key. ${how}`);
}

function derive(master: KeyObject, purpose: string): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `tandem/chat/oauth_tokens/${purpose}`, 32)));
}

function associatedData(tokenId: string, field: TokenField): Buffer {
  return Buffer.from(`chat.oauth_tokens\u0000${tokenId}\u0000${field}`, 'utf8');
}

/** Encrypts and decrypts OAuth token values for one key. */
export class TokenCipher {
  readonly #encryptionKey: KeyObject;
  readonly #ivKey: KeyObject;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new ConfigError(`${TOKEN_KEY_VARIABLE}: the key must be 32 bytes`);
    const master = createSecretKey(key);
    this.#encryptionKey = derive(master, 'aes-256-gcm');
    this.#ivKey = derive(master, 'synthetic-iv');
  }

  /** Reads TANDEM_TOKEN_KEY from the environment; a missing or malformed key is a ConfigError (exit 2). */
  static fromEnv(env: NodeJS.ProcessEnv): TokenCipher {
    const key = parseTokenKey(env[TOKEN_KEY_VARIABLE]);
    try {
      return new TokenCipher(key);
    } finally {
      key.fill(0);
    }
  }

  encrypt(tokenId: string, field: TokenField, plaintext: string): string {
    const aad = associatedData(tokenId, field);
    const iv = createHmac('sha256', this.#ivKey).update(aad).update('\u0000').update(plaintext, 'utf8').digest().subarray(0, IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#encryptionKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}:${iv.toString('base64')}:${sealed.toString('base64')}`;
  }

  decrypt(tokenId: string, field: TokenField, value: string): string {
    const parts = value.split(':');
    if (parts.length !== 3 || parts[0] !== VERSION) {
      throw new TokenDecryptError(`${field} of token ${tokenId}: not an encrypted value (expected ${VERSION}:<iv>:<ciphertext>)`);
    }
    const iv = Buffer.from(parts[1], 'base64');
    const sealed = Buffer.from(parts[2], 'base64');
    if (iv.length !== IV_BYTES || sealed.length < TAG_BYTES) {
      throw new TokenDecryptError(`${field} of token ${tokenId}: malformed encrypted value`);
    }
    const decipher = createDecipheriv('aes-256-gcm', this.#encryptionKey, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(tokenId, field));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new TokenDecryptError(`${field} of token ${tokenId}: does not decrypt (wrong key, or the value belongs to another token or field)`);
    }
  }

  /** Never serialise key material, even by accident. */
  toJSON(): string {
    return '[TokenCipher]';
  }
}

/** The stored form, for output checks and the target's CHECK constraint. */
export const ENCRYPTED_TOKEN_PATTERN = /^v1:[A-Za-z0-9+/]+={0,2}:[A-Za-z0-9+/]+={0,2}$/;
