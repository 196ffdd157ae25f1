/**
 * Integration and e2e tests talk to the real services started by scripts/services.sh;
 * a run without them fails here instead of being skipped.
 */
for (const name of ['TANDEM_SOURCE_URL', 'TANDEM_TARGET_URL', 'TANDEM_KAFKA_BROKERS']) {
  if (!process.env[name]) {
    throw new Error(`${name} is not set: run the tests through \`npm test\` (it starts the services) or eval "$(bash scripts/services.sh env)"`);
  }
}
jest.setTimeout(240_000);
