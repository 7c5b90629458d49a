/**
 * listen-probe: binds an address for a moment and lets it go, so a reload
 * learns that a new listener's port is taken (by another program, or not
 * ours to take) before it stops anything that serves. The bind is
 * exclusive, as a listener's own would be.
 *
 * Errors: probeListen rejects with ListenProbeError (ERR_LISTEN_PROBE),
 * whose one-line message names the address and the system's reason.
 */
import { createServer } from 'node:net';
import { formatInetListen, type InetListen } from '../config/inet-listen.js';

/** The address cannot be bound. */
export class ListenProbeError extends Error {
  readonly code = 'ERR_LISTEN_PROBE';
  constructor(message: string) {
    super(message);
    this.name = 'ListenProbeError';
  }
}

/** Resolves once `address` could be bound (and was released again). */
export function probeListen(address: InetListen): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' ? 'address not available' : err.message;
      reject(new ListenProbeError(`cannot listen on ${formatInetListen(address)}: ${why}`));
    });
    server.listen({ port: address.port, host: address.host, exclusive: true }, () => server.close(() => resolve()));
  });
}
