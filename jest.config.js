/** Test tiers are named by suffix so each runs on its own: *.unit.spec.ts, *.int.spec.ts, *.e2e.spec.ts. */
const transform = { '^.+\\.ts$': ['ts-jest', {}] };
const tier = (displayName, suffix, extra = {}) => ({
  displayName,
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform,
  // The examples import Tandem as a user does: 'tandem' and 'tandem/testing' (package.json exports).
  moduleNameMapper: { '^tandem$': '<rootDir>/src/index.ts', '^tandem/testing$': '<rootDir>/src/testing/index.ts' },
  testMatch: [`<rootDir>/test/**/*.${suffix}.spec.ts`],
  ...extra,
});

/** Suites against the real services; a timeout names what the test was awaiting (support/timeout-environment.ts). */
const withServices = {
  testEnvironment: '<rootDir>/test/support/timeout-environment.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/require-services.ts'],
};

module.exports = {
  projects: [
    tier('unit', 'unit'),
    tier('integration', 'int', withServices),
    tier('e2e', 'e2e', withServices),
  ],
};
