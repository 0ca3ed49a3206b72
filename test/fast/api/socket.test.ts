import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { listen } from '../../../src/api/server.js';
import { testApiServer } from '../../helpers/api-server.js';
import { APP1_KEY, FakeFacade, GLOBAL_KEY } from '../../helpers/fake-facade.js';

/** Send raw bytes, as curl does, and answer the status line and the rest. */
function rawRequest(port: number, text: string): Promise<{ status: number; raw: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let raw = '';
    socket.on('data', (chunk) => {
      raw += chunk.toString();
    });
    socket.on('end', () => resolve({ status: Number(raw.split(' ')[1]), raw }));
    socket.on('error', reject);
    socket.write(text);
  });
}

/** A Node http request with an optional body sent chunked (no Content-Length). */
function chunkedPost(
  port: number,
  path: string,
  chunks: string[],
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST' }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('src/api/server over a real socket on 127.0.0.1', () => {
  let app: FastifyInstance;
  let facade: FakeFacade;
  let port: number;
  let base: string;

  beforeAll(async () => {
    facade = new FakeFacade();
    app = await testApiServer(facade, { localMode: false, version: '1.2.3' });
    port = await listen(app, '127.0.0.1', 0);
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await app.close();
  });

  it('binds a real port when asked for port 0', () => {
    expect(port).toBeGreaterThan(0);
    expect(port).not.toBe(48484);
  });

  it('answers /ping and reports its real port in GET /v1/device', async () => {
    const ping = await fetch(`${base}/ping`);
    expect(ping.status).toBe(200);
    expect(await ping.text()).toBe('OK');
    const device = await fetch(`${base}/v1/device`, { headers: { authorization: `Bearer ${GLOBAL_KEY}` } });
    expect(((await device.json()) as { api_port: unknown }).api_port).toBe(port);
  });

  it('accepts curl -X POST (no body, no Content-Length, no Content-Type) on /v1/update', async () => {
    const before = facade.calls.length;
    const res = await rawRequest(
      port,
      `POST /v1/update?apikey=${GLOBAL_KEY} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
    );
    expect(res.status).toBe(204);
    expect(facade.calls.slice(before)).toEqual([
      { method: 'triggerUpdate', args: [{ force: false, cancel: false, caller: { scope: 'global' } }] },
    ]);
  });

  it('accepts curl -d JSON (labelled form-urlencoded) and a chunked empty body', async () => {
    const body = '{"force":true}';
    const res = await rawRequest(
      port,
      `POST /v1/update HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ApiKey ${GLOBAL_KEY}\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(res.status).toBe(204);
    expect(facade.calls.at(-1)).toEqual({
      method: 'triggerUpdate',
      args: [{ force: true, cancel: false, caller: { scope: 'global' } }],
    });
    const chunked = await chunkedPost(port, `/v1/update?apikey=${GLOBAL_KEY}`, []);
    expect(chunked.status).toBe(204);
  });

  it('answers 413 to a large chunked body and 400 to malformed JSON, and keeps serving', async () => {
    const big = await chunkedPost(port, `/v1/update?apikey=${GLOBAL_KEY}`, Array(80).fill('x'.repeat(1024)));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body)).toEqual({ status: 'failed', message: expect.any(String) });
    const bad = await fetch(`${base}/v1/update?apikey=${GLOBAL_KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"force":',
    });
    expect(bad.status).toBe(400);
    expect((await fetch(`${base}/ping`)).status).toBe(200);
  });

  it('enforces keys and scopes over the socket', async () => {
    expect((await fetch(`${base}/v2/version`)).status).toBe(401);
    const own = await fetch(`${base}/v1/apps/1/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP1_KEY}` },
    });
    expect(own.status).toBe(200);
    const other = await fetch(`${base}/v1/apps/2/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${APP1_KEY}` },
    });
    expect(other.status).toBe(401);
    expect(await other.json()).toEqual({ status: 'failed', message: expect.stringContaining('app 2') });
  });

  it('answers 400 to a badly encoded URL without echoing the key', async () => {
    const res = await rawRequest(
      port,
      `GET /v2/%zz?apikey=${GLOBAL_KEY} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    );
    expect(res.status).toBe(400);
    expect(res.raw).not.toContain(GLOBAL_KEY);
  });

  it('answers JSON errors to broken HTTP and oversized headers, and keeps serving', async () => {
    const garbage = await rawRequest(port, 'THIS IS NOT HTTP\r\n\r\n');
    expect(garbage.status).toBe(400);
    expect(garbage.raw).toContain('{"status":"failed","message":"the request is not valid HTTP"}');
    const huge = await rawRequest(
      port,
      `GET /v2/version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${GLOBAL_KEY}\r\nX-Pad: ${'p'.repeat(20000)}\r\n\r\n`,
    );
    expect(huge.status).toBe(431);
    expect(huge.raw).toContain('"status":"failed"');
    expect((await fetch(`${base}/ping`)).status).toBe(200);
  });
});
