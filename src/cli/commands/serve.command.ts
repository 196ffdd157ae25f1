import type { Command } from 'commander';
import { loadAdminTokens } from '../../modules/admin/auth/admin-tokens';
import { loadConfig } from '../../modules/config/load-config';
import { TandemModule } from '../../app/tandem.module';
import { ConfigError } from '../../shared/errors';
import { createLogger } from '../../shared/logger';
import { untilSignal } from '../run-until-signal';

function portOf(value: string | number): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError('--port: must be a whole number from 0 to 65535 (0: any free port)');
  return port;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'the admin HTTP API (bearer tokens: viewer, operator), the status page at / and Prometheus /metrics, until SIGTERM/SIGINT',
    )
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('--port <port>', 'listen on this port (default admin.port, 8080; 0: any free port)')
    .option('--host <address>', 'listen on this address (default admin.host, 127.0.0.1)')
    .addHelpText(
      'after',
      '\nTokens: TANDEM_ADMIN_TOKENS="name:role:token,…" (role viewer or operator), TANDEM_VIEWER_TOKEN, TANDEM_OPERATOR_TOKEN\nor admin.tokensFile; none or a bad one: exit 2. Status page: http://HOST:PORT/#token=TOKEN (https with admin.tls)',
    )
    .action(async (options: { config: string; port?: string; host?: string }) => {
      const config = loadConfig(options.config);
      const tokens = loadAdminTokens(process.env, config.admin.tokensFile);
      const port = portOf(options.port ?? config.admin.port);
      const host = options.host ?? config.admin.host;
      const logger = createLogger('tandem').child({ module: 'serve' });

      // Loaded here, not at the top: express and the admin module cost every other command's start-up.
      const { startAdminServer } = await import('../../modules/admin/admin-server');
      const server = await startAdminServer({ config, root: TandemModule.forConfig(config), tokens, port, host, logger });
      logger.info(
        { host, port: server.port, tokens: tokens.principals },
        `admin API and status page on ${server.url}`,
      );

      const signal = await untilSignal();
      logger.info({ signal }, 'stopping the admin server');
      await server.close();
    });
}
