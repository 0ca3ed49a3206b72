import { schema } from './schema.js';

/** The README's configuration table, generated from the convict schema (a test keeps them in step). */
export function configTableMarkdown(): string {
  const rows = Object.values(schema).map((entry) => {
    const generated = entry.doc.includes('generated and persisted');
    const fallback =
      entry.default === '' ? (generated ? '(generated)' : '(empty)') : `\`${String(entry.default)}\``;
    const def = 'sensitive' in entry && entry.sensitive ? `${fallback} (secret, masked)` : fallback;
    return `| \`${entry.env}\` | ${entry.doc} | ${def} |`;
  });
  return ['| env var | meaning | default |', '| --- | --- | --- |', ...rows].join('\n');
}
