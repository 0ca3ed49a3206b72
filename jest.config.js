/**
 * Two projects, run one after the other by `npm run test:jest`:
 * - fast: no Docker engine (unit tables, loopback HTTP, the simulated fleet), in parallel;
 * - engine: the real Docker engine and registry, one file at a time, so their timings stay
 *   honest on a 2-core machine and they never compete for the engine.
 * Both mirror src/ (test/<project>/<src dir>/<module>.test.ts).
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
  ],
};
