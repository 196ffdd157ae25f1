import { readFileSync } from 'fs';
import { join } from 'path';
import { TandemProcess, writeConfig } from '../support/capture-process';
import { dropSlot, sql, testKafka, uniqueName } from '../support/services';
import {
  createEnvelopeTables,
  dropEnvelopeTables,
  recordEnvelopeWorkload,
  withPlaceholders,
  type EnvelopeNames,
  type EnvelopeRecording,
} from '../support/envelope-recording';
import { comparableDebezium, comparableTandem } from '../support/envelope-compat';

/**
 * Tandem's change events for the same row changes as Debezium's, recorded from Debezium 3.0.8 into
 * test/fixtures/debezium/envelope.json (bench/peer-debezium/record-fixtures.ts). Field names, op,
 * source and transaction blocks, keys, tombstones, TOAST placeholder, truncate and every column's
 * value must be equal, apart from values that differ between runs and the documented deliberate
 * differences (README, "Differences from Debezium").
 */
describe('capture: envelope compatible with Debezium', () => {
  const debezium = JSON.parse(
    readFileSync(join(__dirname, '..', 'fixtures', 'debezium', 'envelope.json'), 'utf8'),
  ) as EnvelopeRecording;
  const name = uniqueName('envc');
  const names: EnvelopeNames = { prefix: name, types: `${name}_types`, full: `${name}_full` };
  let capture: TandemProcess;
  let tandem: EnvelopeRecording;

  beforeAll(async () => {
    await createEnvelopeTables(names);
    capture = TandemProcess.capture(
      writeConfig({
        prefix: names.prefix,
        slot: name,
        publication: name,
        tables: [`public.${names.types}`, `public.${names.full}`],
      }),
    );
    // Creating the slot waits for every open transaction of the cluster; on a shared server that can take minutes.
    await capture.waitForLog(/streaming changes/, 300_000);
    tandem = withPlaceholders(await recordEnvelopeWorkload(testKafka(), names, 'Tandem'), names);
  }, 480_000);

  afterAll(async () => {
    await capture.stop();
    await dropSlot(name);
    await sql(`DROP PUBLICATION IF EXISTS ${name}`);
    await dropEnvelopeTables(names);
  });

  it('writes the same records as Debezium for every step', () => {
    const expected = comparableDebezium(debezium);
    const actual = comparableTandem(tandem);
    expect(actual.map((step) => step.name)).toEqual(expected.map((step) => step.name));
    for (let i = 0; i < expected.length; i++) expect(actual[i]).toEqual(expected[i]);
  });

  it('keeps one transaction id for BEGIN, the events and END of a transaction', () => {
    const step = tandem.steps.find((s) => s.name === 'insert, update and delete in one transaction')!;
    const ids = new Set(
      step.records
        .map((r) => (r.topic === 'transaction' ? r.value.id : r.value?.transaction?.id))
        .filter(Boolean),
    );
    expect(ids.size).toBe(1);
  });
});
