import { closingNotes } from '../../scripts/quickstart/closing-notes';

describe('the quickstart’s last words', () => {
  const facts = {
    configFile: '/r/.tandem/quickstart/tandem.yaml',
    reportDir: '/r/.tandem/quickstart/reports',
    keyFile: '/r/.tandem/quickstart/token.key',
    slot: 'tandem_quickstart',
    retainedWalBytes: 27 * 1024 * 1024,
  };

  it('suggests a command that runs as printed: it sets the chat recipe’s token key from its file', () => {
    const text = closingNotes(facts).join('\n');
    expect(text).toContain(
      'TANDEM_TOKEN_KEY=$(cat /r/.tandem/quickstart/token.key) npx tandem reconcile --config /r/.tandem/quickstart/tandem.yaml',
    );
    expect(text).toContain('the chat recipe\'s token key is in /r/.tandem/quickstart/token.key');
  });

  it('says that the slot it leaves keeps WAL, how much, and how to drop it', () => {
    const text = closingNotes(facts).join('\n');
    expect(text).toContain('replication slot tandem_quickstart');
    expect(text).toContain('27.0 MiB now');
    expect(text).toContain(`SELECT pg_drop_replication_slot('tandem_quickstart')`);
    expect(closingNotes({ ...facts, retainedWalBytes: null }).join('\n')).not.toContain('pg_drop_replication_slot');
  });
});
