import { connect, type Socket } from 'node:net';

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
