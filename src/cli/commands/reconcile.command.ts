import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { ReconciliationService } from '../../modules/reconciliation/reconciliation.service';
import { renderHtml, renderMarkdown } from '../../modules/reconciliation/reconciliation-report';
import { runInContext } from '../run-in-context';
import { ExitCode } from '../exit-codes';
import { ConfigError } from '../../shared/errors';
import { examples } from '../help';

export function registerReconcileCommand(program: Command): void {
  program
    .command('reconcile')
    .description(
      'prove the target holds what the legacy database holds, as of one source LSN (exit 0 on PASS, 6 on FAIL)',
    )
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('-p, --projection <name>', 'only this projection')
    .option('--report <dir>', 'write JSON, Markdown and HTML reports here')
    .option('--threshold <ratio>', 'largest accepted mismatch ratio (quarantined rows count as differences)', '0.001')
    .option('--accept-quarantined', 'do not count quarantined rows against the threshold (recorded in the report)')
    .option('--json', 'print the reports as JSON')
    .option('--direction <direction>', 'forward (legacy → target) or failback (target → legacy, after a cutover)', 'forward')
    .addHelpText(
      'after',
      examples(
        [
          'tandem reconcile --config tandem.yaml',
          'tandem reconcile --config tandem.yaml --projection users --report reports/ --threshold 0.001 --json',
          'tandem reconcile --config tandem.yaml --direction failback --threshold 0',
        ],
        'Exit codes: 0 every verdict PASS, 6 a verdict FAIL.',
      ),
    )
    .action(
      async (options: {
        config: string;
        projection?: string;
        report?: string;
        threshold: string;
        acceptQuarantined?: boolean;
        json?: boolean;
        direction: string;
      }) => {
        if (options.direction !== 'forward' && options.direction !== 'failback')
          throw new ConfigError(`--direction: "${options.direction}" is not forward or failback`);
        const config = loadConfig(options.config);
        const direction = options.direction;
        const reports = await runInContext(config, (app) =>
          app.get(ReconciliationService).run({
            projection: options.projection,
            threshold: Number(options.threshold),
            direction,
            acceptQuarantined: options.acceptQuarantined,
          }),
        );
        for (const report of reports) {
          if (options.report) {
            mkdirSync(options.report, { recursive: true });
            const base = join(options.report, `reconciliation-${report.id}-${report.projection}`);
            writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
            writeFileSync(`${base}.md`, renderMarkdown(report));
            writeFileSync(`${base}.html`, renderHtml(report));
          }
          if (!options.json) process.stdout.write(renderMarkdown(report));
        }
        if (options.json) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
        if (reports.some((report) => report.verdict === 'FAIL'))
          process.exitCode = ExitCode.reconciliationFailed;
      },
    );
}
