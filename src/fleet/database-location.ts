/**
 * Where the fleet backend keeps its data: a `postgres://` or `postgresql://` URL selects
 * PostgreSQL, anything else is the path of a SQLite file.
 */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** The location as it may be printed or logged: a URL's password replaced by `***`. */
export function displayLocation(location: string): string {
  if (!isPostgresUrl(location)) return location;
  // Not parseable as a URL (the driver refuses it with its own message): print only the scheme,
  // since the rest may hold a password.
  if (!URL.canParse(location)) return `${location.split('//')[0]}//...`;
  const url = new URL(location);
  if (url.password) url.password = '***';
  return url.toString();
}
