/**
 * syslog-receiver: a unix datagram socket bound for a test, as a syslog
 * daemon binds /dev/log. Node cannot bind one, so Debian's /usr/bin/python3
 * does, printing each datagram as a JSON string on a line.
 * syslogReceiverSkip() names what is missing when it cannot run.
 */
import { existsSync } from 'node:fs';
import { PYTHON, startDatagramChild } from './datagram-child.js';

const SCRIPT = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    print(json.dumps(s.recv(65536).decode("utf-8", "replace")), flush=True)
`;

/** A reason to skip, or undefined when a receiver can run. */
export function syslogReceiverSkip(): string | undefined {
  if (!existsSync(PYTHON)) return '/usr/bin/python3 is not installed (it binds the test syslog socket)';
  if (!['/usr/bin/logger', '/bin/logger'].some((p) => existsSync(p))) return 'logger is not installed (Debian package bsdutils)';
  return undefined;
}

export interface SyslogReceiver {
  socket: string;
  /** Every datagram so far. */
  messages: string[];
  /** Resolves with the first datagram matching, or rejects after timeoutMs. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  close(): void;
}

export async function startSyslogReceiver(): Promise<SyslogReceiver> {
  const messages: string[] = [];
  const child = await startDatagramChild('postrider-syslog-', 'log', SCRIPT, [], (line) => messages.push(JSON.parse(line) as string));
  return {
    socket: child.socket,
    messages,
    async waitFor(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find((m) => pattern.test(m));
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`no datagram matched ${pattern} in ${timeoutMs} ms; got:\n${messages.join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => child.close(),
  };
}
