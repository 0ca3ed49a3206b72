/**
 * Turns `?` placeholders into PostgreSQL's `$1, $2, ...`. A `?` inside a quoted literal or
 * identifier is left alone (none of the fleet's SQL has one, but a rewrite must not guess).
 */
export function positionalPlaceholders(sql: string): string {
  let out = '';
  let index = 0;
  let quote: string | undefined;
  for (const char of sql) {
    if (quote) {
      if (char === quote) quote = undefined;
      out += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      out += char;
    } else if (char === '?') {
      out += `$${++index}`;
    } else {
      out += char;
    }
  }
  return out;
}
