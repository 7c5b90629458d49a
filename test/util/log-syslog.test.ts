/** log-syslog: RFC 3164 datagrams on a unix datagram socket, with facility, severity and the tag TAG[ID]. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SyslogSink } from '../../src/util/log-syslog.js';
import { priority, facilityCode } from '../../src/util/syslog-format.js';
import { startSyslogReceiver, syslogReceiverSkip } from '../helpers/syslog-receiver.js';

test('priority is facility * 8 + severity; facilities by their syslog.h names', () => {
  assert.equal(priority(facilityCode('mail')!, 'info'), 22);
  assert.equal(priority(facilityCode('local3')!, 'warning'), 19 * 8 + 4);
  assert.equal(priority(facilityCode('mail')!, 'fatal'), 18);
  assert.equal(facilityCode('nosuch'), undefined);
});

test('the syslog sink sends one datagram per line: <PRI>TIMESTAMP TAG[ID]: text', { skip: syslogReceiverSkip() }, async () => {
  const rx = await startSyslogReceiver();
  const sink = new SyslogSink(rx.socket, facilityCode('mail')!);
  try {
    sink.write('ignored', { tag: 'postrider/smtpd', id: 7, severity: 'info', text: 'connect from localhost[127.0.0.1]' });
    sink.write('ignored', { tag: 'postrider/smtpd', id: 7, severity: 'warning', text: 'warning: something odd' });
    sink.write('ignored', { tag: 'postrider/qmgr', id: 9, severity: 'info', text: 'ABC123: removed' });
    const first = await rx.waitFor(/connect from/);
    assert.match(first, /^<22>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d postrider\/smtpd\[7\]: connect from localhost\[127\.0\.0\.1\]$/);
    assert.match(await rx.waitFor(/something odd/), /^<20>.* postrider\/smtpd\[7\]: warning: something odd$/);
    assert.match(await rx.waitFor(/removed/), /^<22>.* postrider\/qmgr\[9\]: ABC123: removed$/);
    assert.equal(rx.messages.length, 3);
  } finally {
    sink.close();
    rx.close();
  }
});
