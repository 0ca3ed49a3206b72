/**
 * Filtering of Prometheus text exposition (version 0.0.4) by label, so `/metrics` answered to an
 * app's key shows only that app's series (contract section 8). Series without the label are
 * device-wide (polls, process metrics) and stay; `# HELP` and `# TYPE` lines stay too, since a
 * family with no samples is valid exposition.
 */

/**
 * The labels of one sample line (`name{a="x",b="y\"z"} 1`), unescaped; undefined when the line
 * cannot be parsed, which the caller treats as "not shown": failing closed keeps another app's
 * series out even if prom-client ever writes something this parser does not know.
 */
export function sampleLabels(line: string): Record<string, string> | undefined {
  const open = line.indexOf('{');
  const space = line.indexOf(' ');
  if (open === -1 || (space !== -1 && space < open)) return {};
  const labels: Record<string, string> = {};
  let i = open + 1;
  for (;;) {
    if (line[i] === '}') return labels;
    const eq = line.indexOf('="', i);
    if (eq === -1) return undefined;
    const name = line.slice(i, eq);
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) return undefined;
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        j += 1;
        const escaped = line[j];
        value += escaped === 'n' ? '\n' : (escaped ?? '');
      } else {
        value += line[j];
      }
    }
    if (j >= line.length) return undefined;
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i += 1;
  }
}

/**
 * `text` without the samples whose `label` is set to anything but one of `allowed`. Samples
 * without the label, comments and blank lines pass unchanged.
 */
export function keepSeriesOf(text: string, label: string, allowed: ReadonlySet<string>): string {
  return text
    .split('\n')
    .filter((line) => {
      if (line === '' || line.startsWith('#')) return true;
      const labels = sampleLabels(line);
      if (labels === undefined) return false;
      const value = labels[label];
      return value === undefined || allowed.has(value);
    })
    .join('\n');
}
