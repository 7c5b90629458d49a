/**
 * notify-receiver: a unix datagram socket bound for a test, as systemd binds
 * the NOTIFY_SOCKET of a Type=notify unit. Node cannot bind one, so Debian's
 * /usr/bin/python3 does, printing each datagram as a line of JSON. Given an
 * SMTP port, it connects to it the moment a datagram saying READY=1 arrives
 * and records the greeting (or the error), so a test sees what a client
 * would have met when systemd was told "ready".
 * notifyReceiverSkip() names what is missing when it cannot run.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, startDatagramChild } from './datagram-child.js';

const SCRIPT = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
port = int(sys.argv[2])
print("ready", flush=True)
while True:
    text = s.recv(65536).decode("utf-8", "replace")
    greeting = None
    if port and "READY=1" in text.split("\\n"):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
                greeting = c.makefile("rb").readline().decode("utf-8", "replace").rstrip("\\r\\n")
        except OSError as e:
            greeting = "error: " + str(e)
    print(json.dumps({"text": text, "greeting": greeting}), flush=True)
`;

/** A reason to skip, or undefined when a receiver and systemd-notify can run. */
export function notifyReceiverSkip(): string | undefined {
  if (!existsSync(PYTHON)) return '/usr/bin/python3 is not installed (it binds the test notification socket)';
  const path = (process.env.PATH ?? '').split(':').filter(Boolean);
  if (!path.some((d) => existsSync(join(d, 'systemd-notify')))) return 'systemd-notify is not installed (Debian package systemd)';
  return undefined;
}

export interface Notification {
  /** The assignments of one datagram. */
  fields: string[];
  /** For READY=1 with a port given: the first line the SMTP port answered when it arrived, or "error: ...". */
  greeting: string | null;
}

export interface NotifyReceiver {
  socket: string;
  /** Every datagram so far but systemd-notify's BARRIER=1. */
  messages: Notification[];
  /** Resolves once `count` messages have arrived, or rejects after timeoutMs. */
  waitForCount(count: number, timeoutMs?: number): Promise<Notification[]>;
  close(): void;
}

/** Binds a socket; `smtpPort` (0 for none) is tried when READY=1 arrives. */
export async function startNotifyReceiver(smtpPort = 0): Promise<NotifyReceiver> {
  const messages: Notification[] = [];
  const child = await startDatagramChild('postrider-notify-', 'notify', SCRIPT, [String(smtpPort)], (line) => {
    const m = JSON.parse(line) as { text: string; greeting: string | null };
    if (m.text !== 'BARRIER=1') messages.push({ fields: m.text.split('\n'), greeting: m.greeting });
  });
  return {
    socket: child.socket,
    messages,
    async waitForCount(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`${messages.length} notifications in ${timeoutMs} ms, not ${count}: ${JSON.stringify(messages)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return messages.slice(0, count);
    },
    close: () => child.close(),
  };
}
