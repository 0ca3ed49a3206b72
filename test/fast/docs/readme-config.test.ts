import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { configTableMarkdown } from '../../../src/config/table.js';

describe('README configuration table', () => {
  it('is exactly the table generated from the convict schema (run: npm run -s config-table)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(configTableMarkdown());
  });
});
