import type { Command } from 'commander';
import { resolve } from 'path';
import { isReady, runInit } from '../../modules/init/init.service';
import { renderReadiness } from '../../modules/init/init-config';
import { ConfigError } from '../../shared/errors';
import { ExitCode } from '../exit-codes';
import { examples } from '../help';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description(
      'read the source catalog and write a commented tandem.yaml (its tables, a mirror projection of them, Kafka defaults); print what capture needs per table. Never changes the source.',
    )
    .option('-s, --source <url>', 'the legacy database (default: TANDEM_SOURCE_URL)')
    .option('--schema <name>', 'only the tables of this schema, repeatable (default: every schema)', collect)
    .option('-t, --target <url>', 'the new database, written into the file (default: TANDEM_TARGET_URL, else left for later)')
    .option('--brokers <list>', 'Kafka brokers, comma-separated (default: TANDEM_KAFKA_BROKERS, else 127.0.0.1:9092)')
    .option('-o, --out <file>', 'the file to write', 'tandem.yaml')
    .option('--force', 'overwrite the file if it exists')
    .option('--json', 'print what capture needs as JSON: { file, ready, walLevel, role, canReplicate, problems, tables }')
    .addHelpText(
      'after',
      examples(
        [
          'tandem init --source postgres://app@legacy-db:5432/app --schema shop',
          'tandem init --source postgres://app@legacy-db/app --target postgres://tandem@new-db/app --out shop.yaml',
          'TANDEM_SOURCE_URL=postgres://app:pw@legacy-db/app tandem init --schema shop --schema billing --force',
          'tandem init --source postgres://app@legacy-db/app --out /tmp/check.yaml --force --json   # readiness for scripts',
        ],
        'No password is written into the file (set TANDEM_SOURCE_URL / TANDEM_TARGET_URL, PGPASSWORD or ~/.pgpass).\n' +
          'Exit codes: 0 written and the source is ready for capture, 3 written but something must be fixed first\n' +
          '(each fix is printed), 2 bad arguments or the file exists.',
      ),
    )
    .action(
      async (options: { source?: string; schema?: string[]; target?: string; brokers?: string; out: string; force?: boolean; json?: boolean }) => {
        const sourceUrl = options.source ?? process.env.TANDEM_SOURCE_URL;
        if (!sourceUrl) throw new ConfigError('init: --source (or TANDEM_SOURCE_URL) is required');
        const brokers = (options.brokers ?? process.env.TANDEM_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim());
        const out = resolve(options.out);
        const { readiness } = await runInit({
          sourceUrl,
          schemas: options.schema,
          targetUrl: options.target ?? process.env.TANDEM_TARGET_URL,
          brokers,
          out,
          force: options.force,
        });
        const ready = isReady(readiness);
        process.stdout.write(
          options.json
            ? `${JSON.stringify({ file: out, ready, ...readiness }, null, 2)}\n`
            : `wrote ${out}\n\n${renderReadiness(readiness, options.out)}\n`,
        );
        if (!ready) process.exitCode = ExitCode.sourceNotReady;
      },
    );
}
