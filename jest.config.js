/** @type {import('jest').Config} */
export default {
  roots: ['<rootDir>/test'],
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  // Integration tests share one Docker engine and registry; run files one at a time
  // so their timings stay honest on a 2-core machine.
  maxWorkers: 1,
  testTimeout: 60000,
};
