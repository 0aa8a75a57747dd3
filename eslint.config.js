import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Pure cores (codecs, offset math, the metadata state machine, assignors, retry policy) must not
// reach for Node's I/O: the layering rule below keeps them testable with injected clocks and disks.
const pureCore = [
  'proto/record-batch/**/*.ts',
  'proto/kafka/**/*.ts',
  'proto/errors.ts',
  'proto/api.ts',
  'proto/framing.ts',
  'broker/log/layout.ts',
  'broker/log/retention.ts',
  'broker/log/compaction.ts',
  'coordinator/metadata/**/*.ts',
  // Consumer groups: the state machine, its commands and applied state, the batcher (the rest of
  // coordinator/groups/ is the leader's shell and the protocol handler).
  'coordinator/groups/group.ts',
  'coordinator/groups/group-types.ts',
  'coordinator/groups/group-commands.ts',
  'coordinator/groups/commit-offsets-codec.ts',
  'coordinator/groups/group-store.ts',
  'coordinator/groups/offset-batcher.ts',
  'coordinator/groups/consumer-protocol.ts',
  // Transactions: the state machine, its commands and applied state (txn-coordinator.ts and
  // marker-sender.ts are the leader's shell).
  'coordinator/transactions/txn.ts',
  'coordinator/transactions/txn-types.ts',
  'coordinator/transactions/txn-commands.ts',
  'coordinator/transactions/txn-store.ts',
  // Schema registry: formats, compatibility, the store and the REST router (registry-server.ts and
  // registry-service.ts are the HTTP and Raft shell).
  'coordinator/schema-registry/formats/**/*.ts',
  'coordinator/schema-registry/schema-commands.ts',
  'coordinator/schema-registry/schema-store.ts',
  'coordinator/schema-registry/compatibility-check.ts',
  'coordinator/schema-registry/rest-api.ts',
  'broker/log/producer-state.ts',
  'broker/log/control-batch.ts',
  // The Raft core and its simulator; storage/, transport/ and host/ are the I/O shell around it.
  'coordinator/raft/*.ts',
  'coordinator/raft/sim/**/*.ts',
  'client/policy/**/*.ts',
  'client/group/assignors/**/*.ts',
  'client/producer/accumulator.ts',
  'client/producer/byte-budget.ts',
  'cli/config/resolve.ts',
  'cli/config/properties.ts',
  'cli/config/suggest.ts',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.cjs', 'vitest.config.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: pureCore,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*'], message: 'Pure core: no Node I/O here; take it through an injected interface.' }] }],
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Pure core: take nowMs as an argument.' }, { object: 'Math', property: 'random', message: 'Pure core: take a seeded random source.' }],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
