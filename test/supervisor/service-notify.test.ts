/**
 * service-notify: NOTIFY_SOCKET is taken out of the environment; messages
 * reach a real notification socket through systemd-notify in the order
 * given, a STATUS keeps to one line, nothing but STOPPING=1 goes after the
 * stop; a missing systemd-notify is one warning line naming the package,
 * and a failed send one warning line, neither thrown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeNotifySocket } from '../../src/supervisor/service-notify.js';
import { notifyReceiverSkip, startNotifyReceiver } from '../helpers/notify-receiver.js';

test('takeNotifySocket removes NOTIFY_SOCKET from the environment, and gives a notifier only when it was set', () => {
  const warn = (): void => undefined;
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', PATH: '/usr/bin' };
  const n = takeNotifySocket(env, warn);
  assert.equal(n?.socket, '/run/systemd/notify');
  assert.deepEqual(env, { PATH: '/usr/bin' });
  const empty: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '' };
  assert.equal(takeNotifySocket(empty, warn), undefined);
  assert.deepEqual(empty, {});
  assert.equal(takeNotifySocket({}, warn), undefined);
});

test('a missing systemd-notify is one warning line naming the package, and nothing is thrown', async () => {
  const lines: string[] = [];
  const n = takeNotifySocket({ NOTIFY_SOCKET: '/run/systemd/notify' }, (l) => lines.push(l), '/nonexistent/systemd-notify')!;
  n.ready('accepting mail');
  n.reloading();
  n.ready('accepting mail');
  n.stopping();
  await n.settled();
  assert.deepEqual(lines, ['NOTIFY_SOCKET is set but /nonexistent/systemd-notify is not installed (Debian package systemd): systemd is not told the daemon\'s state']);
});

test('messages arrive in order, STATUS on one line, nothing but STOPPING=1 after the stop; a failed send is one warning', { skip: notifyReceiverSkip() }, async () => {
  const receiver = await startNotifyReceiver();
  const lines: string[] = [];
  try {
    const n = takeNotifySocket({ NOTIFY_SOCKET: receiver.socket }, (l) => lines.push(l))!;
    n.ready('accepting mail');
    n.reloading();
    n.ready('reload refused:\nline one\n  line two');
    n.stopping();
    n.ready('too late');
    n.reloading();
    n.stopping();
    await n.settled();
    assert.deepEqual(
      receiver.messages.map((m) => m.fields.filter((f) => !f.startsWith('MONOTONIC_USEC='))),
      [
        ['READY=1', `MAINPID=${process.pid}`, 'STATUS=accepting mail'],
        ['RELOADING=1', 'STATUS=reloading the configuration'],
        ['READY=1', `MAINPID=${process.pid}`, 'STATUS=reload refused: line one line two'],
        ['STOPPING=1', 'STATUS=stopping: draining the work in flight'],
      ],
    );
    assert.match(receiver.messages[1].fields[1], /^MONOTONIC_USEC=\d+$/);
    assert.equal(lines.length, 0, lines.join('\n'));
  } finally {
    receiver.close();
  }
  // a socket nobody binds: systemd-notify fails, and says why in one line; the next message is still tried
  const dir = mkdtempSync(join(tmpdir(), 'postrider-notify-'));
  try {
    const n = takeNotifySocket({ NOTIFY_SOCKET: join(dir, 'gone') }, (l) => lines.push(l))!;
    n.ready('accepting mail');
    n.stopping();
    await n.settled();
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0], /^systemd-notify READY=1 failed \(exit status 1\): .*No such file or directory/);
    assert.match(lines[1], /^systemd-notify STOPPING=1 failed \(exit status 1\): /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
