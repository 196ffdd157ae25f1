import { formatBytes } from '../../src/modules/status/status.render';

export interface ClosingFacts {
  configFile: string;
  reportDir: string;
  /** The chat recipe's TANDEM_TOKEN_KEY, which the quickstart kept in a file. */
  keyFile: string;
  slot: string;
  /** WAL the slot holds back on the legacy database, or null when there is no slot. */
  retainedWalBytes: number | null;
}

/** What the quickstart says last: a next command that runs as printed, and the slot it leaves behind. */
export function closingNotes(facts: ClosingFacts): string[] {
  const lines = [
    `Open the HTML reports in ${facts.reportDir}, or run (the chat recipe's token key is in ${facts.keyFile}):`,
    `  TANDEM_TOKEN_KEY=$(cat ${facts.keyFile}) npx tandem reconcile --config ${facts.configFile} --report ${facts.reportDir} --accept-quarantined`,
  ];
  if (facts.retainedWalBytes !== null)
    lines.push(
      `The replication slot ${facts.slot} stays on the legacy database so that capture can resume; until it is dropped it`,
      `keeps the legacy database from recycling WAL (${formatBytes(facts.retainedWalBytes)} now, growing with every write). When you are done:`,
      `  eval "$(bash scripts/services.sh env)"; psql "$TANDEM_SOURCE_URL" -c "SELECT pg_drop_replication_slot('${facts.slot}')"`,
    );
  return lines;
}
