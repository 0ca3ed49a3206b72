import { connect, type Socket } from 'node:net';
import type { ConnectionLimits } from '../../src/api/connection-limits.js';

/**
 * Connection limits small enough for quick tests: a cap of 20, idle sockets gone after about 2 s.
 * Not less: an admitted socket that times out before every connect of a storm was accepted frees
 * its slot for one that should have been refused (seen on a loaded machine with 400 ms).
 */
export const SMALL_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 20,
  requestTimeoutMs: 2_000,
  keepAliveTimeoutMs: 200,
  idleTimeoutMs: 5_000,
  checkIntervalMs: 100,
};

export interface IdleSocket {
  socket: Socket;
  closed: boolean;
  received: string;
}

/** A raw connection that sends nothing, as an attacker holding descriptors would. */
export function idleSocket(port: number): IdleSocket {
  const entry: IdleSocket = { socket: connect(port, '127.0.0.1'), closed: false, received: '' };
  entry.socket.on('data', (chunk) => (entry.received += chunk.toString()));
  entry.socket.on('close', () => (entry.closed = true));
  // A refused connection may be reset: that is the expected outcome, not a test failure.
  entry.socket.on('error', () => undefined);
  return entry;
}

/** Sends raw bytes (not necessarily HTTP) and answers everything received until the server closes. */
export function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let raw = '';
    socket.on('data', (chunk) => (raw += chunk.toString()));
    socket.on('end', () => resolve(raw));
    socket.on('error', reject);
    socket.write(text);
  });
}
