import type { Recipe } from '../recipe';
import type { ProjectionDefinition } from '../framework/define-projection';
import { chatProjection } from './chat.projection';
import { TokenCipher } from './token-crypto';

export { chatProjection } from './chat.projection';
export { TokenCipher, TOKEN_KEY_VARIABLE } from './token-crypto';

/**
 * Seed 001 (chat/RAG app): eight tables into the `chat` schema. Needs TANDEM_TOKEN_KEY (32 bytes,
 * base64 or hex) to encrypt OAuth tokens; without a valid key the projection does not start
 * (ConfigError, exit 2), and the message never shows the value.
 */
export const chatRecipe: Recipe = {
  name: 'chat',
  projection: ({ sourceSchema, env }) => chatProjection({ sourceSchema, cipher: TokenCipher.fromEnv(env) }) as ProjectionDefinition<unknown>,
};
