import { describe, expect, it } from '@jest/globals';
import { chooseDatabase } from '../../../src/fleet/cli-serve.js';
import { displayLocation, isPostgresUrl } from '../../../src/fleet/database-location.js';
import { positionalPlaceholders } from '../../../src/fleet/sql/placeholders.js';

const PG = 'postgres://bosun:secret@127.0.0.1:5432/fleet';

describe('fleet/cli-serve chooseDatabase', () => {
  const sources =
    (map: Record<string, string>) =>
    (key: string): string | undefined =>
      map[key];

  it.each([
    [
      '--database on the command line wins over --db given too',
      { database: PG, db: 'x.db' },
      { database: 'cli', db: 'cli' },
      PG,
    ],
    [
      '--database on the command line wins over BOSUN_FLEET_DB',
      { database: PG, db: 'x.db' },
      { database: 'cli', db: 'env' },
      PG,
    ],
    [
      '--db on the command line wins over BOSUN_FLEET_DATABASE',
      { database: PG, db: 'x.db' },
      { database: 'env', db: 'cli' },
      'x.db',
    ],
    [
      'BOSUN_FLEET_DATABASE wins over BOSUN_FLEET_DB',
      { database: PG, db: 'x.db' },
      { database: 'env', db: 'env' },
      PG,
    ],
    [
      'the default file when nothing is given',
      { db: './bosun-fleet.db' },
      { db: 'default' },
      './bosun-fleet.db',
    ],
  ])('%s', (_what, options, given, expected) => {
    expect(chooseDatabase(options, sources(given))).toBe(expected);
  });

  it('refuses an empty --database', () => {
    expect(() => chooseDatabase({ database: '', db: 'x.db' }, sources({ database: 'cli' }))).toThrow(
      '--database must not be empty',
    );
  });
});

describe('fleet/database-location', () => {
  it('takes postgres:// and postgresql:// URLs for PostgreSQL, anything else for a SQLite file', () => {
    expect(isPostgresUrl(PG)).toBe(true);
    expect(isPostgresUrl('postgresql://h/db')).toBe(true);
    expect(isPostgresUrl('POSTGRES://h/db')).toBe(true);
    expect(isPostgresUrl('./postgres://not-a-url.db')).toBe(false);
    expect(isPostgresUrl('/var/lib/bosun/fleet.db')).toBe(false);
  });

  it('never prints a password', () => {
    expect(displayLocation(PG)).toBe('postgres://bosun:***@127.0.0.1:5432/fleet');
    expect(displayLocation('postgres://h:5432/db')).toBe('postgres://h:5432/db');
    expect(displayLocation('postgres://u:p@[bad')).toBe('postgres://...');
    expect(displayLocation('fleet.db')).toBe('fleet.db');
  });
});

describe('fleet/sql positionalPlaceholders', () => {
  it('numbers ? placeholders, leaving quoted ones alone', () => {
    expect(positionalPlaceholders('SELECT ? , \'?\', "?" FROM t WHERE a = ? AND b = ?')).toBe(
      'SELECT $1 , \'?\', "?" FROM t WHERE a = $2 AND b = $3',
    );
  });
});
