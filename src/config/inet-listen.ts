/**
 * inet-listen: the address an inet service of master.cf listens on, read
 * from its service name as Postfix does: "[host:]port", where host is an
 * IPv4 address, a bracketed IPv6 address, a host name or "*" (every
 * address), and port a number or a well-known service name (smtp,
 * submission, submissions/smtps). A name without a host listens on
 * inet_interfaces (loopback-only: 127.0.0.1; all: every address; else the
 * first one). Shared by `check` (master.cf), the supervisor's reload
 * (which test-binds a new address before it changes anything) and smtpd
 * (which binds it), so all three read a name the same way.
 *
 * Errors: parseInetListen throws InetListenError (ERR_INET_LISTEN) with a
 * one-line message naming the service and what is wrong.
 */
import { isIP } from 'node:net';

/** A service name that is no listen address. */
export class InetListenError extends Error {
  readonly code = 'ERR_INET_LISTEN';
  constructor(message: string) {
    super(message);
    this.name = 'InetListenError';
  }
}

/** Where a listener binds; host undefined means every address. */
export interface InetListen {
  host?: string;
  port: number;
}

/** Ports Postfix finds in /etc/services for the usual mail services. */
const SERVICE_PORTS: Readonly<Record<string, number>> = { smtp: 25, submission: 587, submissions: 465, smtps: 465 };

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

/**
 * The host and port of an inet service name.
 * @param inetInterfaces inet_interfaces as a list, for a name without a host
 */
export function parseInetListen(name: string, inetInterfaces: readonly string[] = ['all'], inetProtocols: readonly string[] = ['all']): InetListen {
  const bad = (why: string): InetListenError => new InetListenError(`service ${name}: ${why} (expected [host:]port)`);
  let host: string | undefined;
  let portPart = name;
  let hostGiven = false;
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(name);
  if (v6) {
    host = v6[1];
    portPart = v6[2];
    hostGiven = true;
    if (isIP(host) !== 6) throw bad(`"${host}" is not an IPv6 address`);
  } else if (name.includes(':')) {
    const i = name.lastIndexOf(':');
    host = name.slice(0, i);
    portPart = name.slice(i + 1);
    hostGiven = true;
    if (host.includes(':')) throw bad('an IPv6 address needs brackets');
    if (host !== '' && host !== '*' && !isIP(host) && !HOST_NAME.test(host)) throw bad(`bad host "${host}"`);
  }
  let port: number;
  if (/^\d+$/.test(portPart)) port = Number(portPart);
  else if (SERVICE_PORTS[portPart] !== undefined) port = SERVICE_PORTS[portPart];
  else throw bad(portPart === '' ? 'no port' : `unknown port "${portPart}"`);
  if (port > 65535) throw bad(`port ${port} out of range (0-65535)`);
  if (!hostGiven) {
    if (inetInterfaces.includes('loopback-only')) host = '127.0.0.1';
    else if (inetInterfaces.length > 0 && !inetInterfaces.includes('all')) host = inetInterfaces[0].replace(/^\[|\]$/g, '');
  }
  if (host === '*' || host === '') host = undefined;
  // On every interface, IPv4 alone when inet_protocols says so (Node's "::" would take IPv6 too).
  if (host === undefined && inetProtocols.length > 0 && inetProtocols.every((p) => p.toLowerCase() === 'ipv4')) host = '0.0.0.0';
  return { host, port };
}

/** "host:port" or "[v6]:port" or "*:port", for messages. */
export function formatInetListen(a: InetListen): string {
  if (a.host === undefined) return `*:${a.port}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
