import type { Command } from 'commander';
import { runMirrorSchemaDiff, runSchemaDiff } from '../../modules/schema-diff/schema-diff.service';
import { loadConfig } from '../../modules/config/load-config';
import { renderJson, renderTable } from '../../modules/schema-diff/schema-diff.render';
import { ConfigError } from '../../shared/errors';
import { ExitCode } from '../exit-codes';
import { runInContext } from '../run-in-context';
import { TandemResources } from '../../modules/core/tandem-resources';
import { examples } from '../help';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerSchemaDiffCommand(program: Command): void {
  program
    .command('schema-diff')
    .description(
      'compare the schemas of two databases: tables, columns, types, nullability, defaults, indexes, constraints (exit 0 when equal, 7 when not)',
    )
    .option('-s, --source <url>', 'the legacy database (default: TANDEM_SOURCE_URL)')
    .option('-t, --target <url>', 'the new database (default: TANDEM_TARGET_URL)')
    .option(
      '-m, --schema-map <pair>',
      'legacy=target schema pair, repeatable (default: every schema, paired by name)',
      collect,
    )
    .option('-c, --config <file>', 'with --projection: the configuration file')
    .option('-p, --projection <name>', "a mirror projection: compare its source tables with its target tables through the mirror's mapping")
    .option('--json', 'print the differences as JSON')
    .addHelpText(
      'after',
      examples(
        [
          'tandem schema-diff --source postgres://app@legacy-db/app --target postgres://tandem@new-db/app',
          'tandem schema-diff --schema-map legacy=app --json   # URLs from TANDEM_SOURCE_URL / TANDEM_TARGET_URL',
          'tandem schema-diff --config tandem.yaml --projection shop   # a mirror: source DDL it does not follow',
        ],
        'Exit codes: 0 no differences, 7 differences found, 2 bad arguments.',
      ),
    )
    .action(async (options: { source?: string; target?: string; schemaMap?: string[]; json?: boolean; config?: string; projection?: string }) => {
      if (options.projection !== undefined) {
        if (!options.config) throw new ConfigError('schema-diff: --projection needs --config');
        const config = loadConfig(options.config);
        const report = await runInContext(config, (app) => runMirrorSchemaDiff(config, options.projection!, app.get(TandemResources)));
        process.stdout.write(options.json ? renderJson(report) : renderTable(report));
        if (!report.identical) process.exitCode = ExitCode.schemaDiffFound;
        return;
      }
      const sourceUrl = options.source ?? process.env.TANDEM_SOURCE_URL;
      const targetUrl = options.target ?? process.env.TANDEM_TARGET_URL;
      if (!sourceUrl) throw new ConfigError('schema-diff: --source (or TANDEM_SOURCE_URL) is required');
      if (!targetUrl) throw new ConfigError('schema-diff: --target (or TANDEM_TARGET_URL) is required');
      const report = await runSchemaDiff({ sourceUrl, targetUrl, schemaMap: options.schemaMap });
      process.stdout.write(options.json ? renderJson(report) : renderTable(report));
      if (!report.identical) process.exitCode = ExitCode.schemaDiffFound;
    });
}
