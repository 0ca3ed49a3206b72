/**
 * The fleet backend's tests run on each of its databases: SQLite (a temp file) and PostgreSQL
 * (the stack's private cluster). Every test takes a fresh database from `TestDatabases`; the
 * PostgreSQL variants fail (never skip) when the cluster is not there.
 */
export {
  FLEET_BACKENDS,
  ScratchDatabases as TestDatabases,
  stackPostgresUrl,
  withDatabase,
  type FleetBackend,
} from '../../scripts/bench/scratch-databases.js';
