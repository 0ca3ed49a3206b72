/**
 * Three projects, run one after the other by `npm run test:jest`:
 * - fast: no Docker engine (unit tables, loopback HTTP, the simulated fleet), in parallel;
 * - engine: the real Docker engine and registry, one file at a time, so their timings stay
 *   honest on a 2-core machine and they never compete for the engine;
 * - scale: a simulated fleet of a thousand agents in worker processes (compiled code: the test
 *   command builds first); it takes both cores, so it runs alone, after the others, where it
 *   cannot make their timing-sensitive tests flake.
 * All mirror src/ (test/<project>/<src dir>/<module>.test.ts).
 */
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
};

/** @type {import('jest').Config} */
export default {
  testTimeout: 60000,
  projects: [
    { ...common, displayName: 'fast', roots: ['<rootDir>/test/fast'] },
    { ...common, displayName: 'engine', roots: ['<rootDir>/test/engine'] },
    { ...common, displayName: 'scale', roots: ['<rootDir>/test/scale'] },
  ],
};
