/**
 * Scratch databases for the fleet backend's tests and benchmarks: SQLite files in a temp dir, or
 * new databases on the stack's private PostgreSQL cluster (scripts/stack/up.sh). Without a
 * reachable PostgreSQL, asking for one fails, saying how to start one: tests never skip.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export type FleetBackend = 'sqlite' | 'postgres';

export const FLEET_BACKENDS: FleetBackend[] = ['sqlite', 'postgres'];

/** BOSUN_TEST_PG_URL, else the URL scripts/stack/up.sh wrote for the stack's cluster. */
export function stackPostgresUrl(): string {
  const fromEnv = process.env.BOSUN_TEST_PG_URL;
  if (fromEnv) return fromEnv;
  const stackDir = process.env.BOSUN_STACK_DIR ?? path.join(process.cwd(), '.stack');
  const file = path.join(stackDir, 'postgres', 'test-url');
  if (!existsSync(file)) {
    throw new Error(
      `no PostgreSQL for the fleet tests: ${file} is missing; run scripts/stack/up.sh or set BOSUN_TEST_PG_URL`,
    );
  }
  return readFileSync(file, 'utf8').trim();
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * Fresh, empty databases of one kind: `fresh()` gives the location of a new one (a file path,
 * or the URL of a new PostgreSQL database `bosun_test_<random>`); `dispose()` removes every one
 * it gave (PostgreSQL ones dropped WITH (FORCE), closing what still uses them).
 */
export class ScratchDatabases {
  private dir: string | undefined;
  private admin: pg.Client | undefined;
  private readonly created: string[] = [];

  constructor(readonly backend: FleetBackend) {}

  async fresh(): Promise<string> {
    if (this.backend === 'sqlite') {
      this.dir ??= mkdtempSync(path.join(tmpdir(), 'bosun-fleet-db-'));
      return path.join(this.dir, `fleet-${this.created.push('file')}.db`);
    }
    const admin = await this.adminClient();
    const name = `bosun_test_${randomBytes(6).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${name}`);
    this.created.push(name);
    return withDatabase(stackPostgresUrl(), name);
  }

  async dispose(): Promise<void> {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    if (!this.admin) return;
    for (const name of this.created) await dropDatabase(this.admin, name);
    await this.admin.end();
  }

  private async adminClient(): Promise<pg.Client> {
    if (this.admin) return this.admin;
    const url = stackPostgresUrl();
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
    } catch (err) {
      throw new Error(
        `cannot reach the stack's PostgreSQL at ${new URL(url).host}: ${(err as Error).message};` +
          ' run scripts/stack/up.sh',
        { cause: err },
      );
    }
    this.admin = client;
    return client;
  }
}

/** PostgreSQL's insufficient_privilege: FORCE met a backend the role may not end. */
const INSUFFICIENT_PRIVILEGE = '42501';

/**
 * Drops a scratch database, ending what still uses it. FORCE cannot end a backend of another role
 * (an autovacuum worker that happened to start on the database): then the drop is tried again
 * once that worker has finished, a few times, before it fails.
 */
async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== INSUFFICIENT_PRIVILEGE || attempt >= 20) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
