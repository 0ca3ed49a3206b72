/** Calls to an agent's local API over loopback, with exactly the headers given. */

export interface Reply {
  status: number;
  body: unknown;
  text: string;
}

/** One request to an agent's API with exactly the headers given (no key unless one is passed). */
export async function rawApi(
  port: number,
  method: string,
  route: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    body = text; // plain-text answers such as /ping's OK
  }
  return { status: response.status, body, text };
}
