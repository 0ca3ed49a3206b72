/**
 * The local API on the gateways of the app networks (contract section 9, "The local API from a
 * bridge network"): a container on a bridge reaches the host at its network's gateway, so the
 * agent listens there too, on the API's own port, and on nothing else. Each listener hands its
 * connections to the API's one HTTP server, so every route, key check and connection limit is
 * the same as on BOSUN_LISTEN_ADDRESS.
 */
import net from 'node:net';
import type { Server } from 'node:http';
import type { Logger } from '../util/logger.js';

export interface GatewayListenerOptions {
  /** The API's HTTP server, which serves every connection. */
  server: Server;
  /** The address the API listens on already: a wildcard one covers the gateways as well. */
  listenAddress: string;
  port: number;
  maxConnections: number;
  log: Logger;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

export class GatewayListeners {
  private readonly listeners = new Map<string, net.Server>();
  private closed = false;

  constructor(private readonly options: GatewayListenerOptions) {}

  /** The addresses listened on now. */
  get addresses(): string[] {
    return [...this.listeners.keys()].sort();
  }

  /**
   * Listens on each of `gateways` not listened on yet, and stops listening on the others. An
   * address that cannot be bound now (its network just went) is logged and tried at the next sync.
   */
  async sync(gateways: Iterable<string>): Promise<void> {
    if (this.closed) return;
    const wanted = new Set(gateways);
    if (WILDCARDS.has(this.options.listenAddress)) wanted.clear();
    wanted.delete(this.options.listenAddress);
    for (const [address, listener] of this.listeners) {
      if (wanted.has(address)) continue;
      this.listeners.delete(address);
      await closeServer(listener);
      this.options.log.info({ address }, 'local API no longer listening on a network gateway');
    }
    for (const address of wanted) {
      if (this.listeners.has(address)) continue;
      try {
        this.listeners.set(address, await this.listen(address));
        this.options.log.info(
          { address, port: this.options.port },
          'local API listening on a network gateway',
        );
      } catch (err) {
        this.options.log.warn({ address, err }, 'cannot listen on a network gateway; trying again later');
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map(closeServer));
  }

  private listen(address: string): Promise<net.Server> {
    const { server, port, maxConnections } = this.options;
    const listener = net.createServer((socket) => server.emit('connection', socket));
    listener.maxConnections = maxConnections;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ host: address, port, exclusive: true }, () => {
        listener.off('error', reject);
        listener.on('error', (err) => this.options.log.warn({ address, err }, 'gateway listener failed'));
        resolve(listener);
      });
    });
  }
}

/**
 * Stops accepting at once. Connections already handed to the HTTP server are its own to end
 * (keep-alive and idle timeouts, or its close): waiting on them here could hold a stop up.
 */
async function closeServer(listener: net.Server): Promise<void> {
  listener.close();
}
