import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tandem/', 'bin/', 'coverage/', '*.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // kafkajs is loaded through src/connectors/kafka/kafkajs.ts, which first installs Tandem's produce path.
    ignores: ['src/connectors/kafka/kafkajs.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: 'kafkajs', message: 'import from src/connectors/kafka/kafkajs.ts (types may come from kafkajs)', allowTypeImports: true }] },
      ],
    },
  },
  {
    // Tests read parsed JSON events; typing every envelope there would hide what they assert.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
