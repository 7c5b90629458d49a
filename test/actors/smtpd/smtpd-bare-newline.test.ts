/**
 * SMTP smuggling (CVE-2023-51764): whatever non-standard end-of-data a client
 * sends, one DATA phase yields at most one message; smtpd_forbid_bare_newline
 * normalize / reject / no, and the exclusions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ehloSession, startSmtpd, type Harness } from './smtpd-test-kit.js';

const VARIANTS = ['\n.\n', '\n.\r\n', '\r.\r', '\r\n.\n', '\n.\r', '\r\n.\r', '\r.\r\n', '\r.\n', '\n..\n', '\r\n.\r\r\n'];
const SMUGGLED = 'MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@mx.test.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n';

/** Runs one DATA phase holding `variant` then the smuggled commands, then the real end; returns the replies after 354. */
async function attempt(h: Harness, variant: string, chunked = false): Promise<string[]> {
  const c = await ehloSession(h.port);
  try {
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    const payload = `Subject: first\r\n\r\nhello${variant}${SMUGGLED}.\r\nQUIT\r\n`;
    if (chunked) {
      for (const ch of payload) {
        c.send(ch);
        await new Promise((r) => setImmediate(r));
      }
    } else {
      c.send(payload);
    }
    const replies: string[] = [];
    for (;;) {
      const r = await c.reply();
      if (r === undefined) break;
      replies.push(r);
      if (r.startsWith('221') || r.startsWith('521') || r.startsWith('421')) break;
    }
    return replies;
  } finally {
    c.close();
  }
}

test('normalize (default): no variant ends DATA early; one message, bare LF turned into CRLF', async () => {
  const h = await startSmtpd({ smtpd_forbid_bare_newline: 'normalize' });
  try {
    for (const v of VARIANTS) {
      h.submissions.length = 0;
      const replies = await attempt(h, v);
      assert.equal(replies.filter((r) => r.startsWith('250 2.0.0 Ok: queued')).length, 1, `variant ${JSON.stringify(v)}: ${replies.join(' | ')}`);
      assert.equal(h.submissions.length, 1, JSON.stringify(v));
      const text = Buffer.from(h.submissions[0].content).toString('latin1');
      assert.ok(text.includes('Subject: smuggled'), 'the smuggled part stays content');
      assert.equal(h.submissions[0].sender, 's@test.example');
      assert.ok(!/[^\r]\n/.test(text), `no bare LF left for ${JSON.stringify(v)}`);
    }
  } finally {
    await h.stop();
  }
});

test('normalize: the same holds when the bytes arrive one at a time', async () => {
  const h = await startSmtpd();
  try {
    for (const v of ['\n.\n', '\r\n.\n', '\n.\r\n']) {
      h.submissions.length = 0;
      const replies = await attempt(h, v, true);
      assert.equal(replies.filter((r) => r.startsWith('250 2.0.0')).length, 1, replies.join(' | '));
      assert.equal(h.submissions.length, 1);
    }
  } finally {
    await h.stop();
  }
});

test('reject: a bare LF in DATA gets "521 5.5.2 Error: bare <LF> received", no message, and the session ends', async () => {
  const h = await startSmtpd({ smtpd_forbid_bare_newline: 'reject', smtpd_forbid_bare_newline_exclusions: '' });
  try {
    for (const v of VARIANTS) {
      h.submissions.length = 0;
      const replies = await attempt(h, v);
      if (/(^|[^\r])\n/.test(v)) {
        assert.equal(replies.at(-1), '521 5.5.2 Error: bare <LF> received', `variant ${JSON.stringify(v)}: ${replies.join(' | ')}`);
        assert.equal(h.submissions.length, 0, JSON.stringify(v));
      } else {
        // Bare CR only: content, one message.
        assert.equal(h.submissions.length, 1, JSON.stringify(v));
      }
    }
  } finally {
    await h.stop();
  }
});

test('reject: a command line ending in a bare LF is refused too', async () => {
  const h = await startSmtpd({ smtpd_forbid_bare_newline: 'reject', smtpd_forbid_bare_newline_exclusions: '' });
  try {
    const c = await ehloSession(h.port);
    c.send('MAIL FROM:<s@test.example>\n');
    assert.equal(await c.reply(), '521 5.5.2 Error: bare <LF> received');
    assert.ok(await c.closedByServer());
  } finally {
    await h.stop();
  }
});

test('reject: clients in smtpd_forbid_bare_newline_exclusions ($mynetworks by default) are normalised instead', async () => {
  const h = await startSmtpd({ smtpd_forbid_bare_newline: 'reject', mynetworks: '127.0.0.0/8' });
  try {
    const replies = await attempt(h, '\n.\n');
    assert.equal(replies.filter((r) => r.startsWith('250 2.0.0')).length, 1, replies.join(' | '));
    assert.equal(h.submissions.length, 1);
  } finally {
    await h.stop();
  }
});

test('no: old behaviour for content, but a non-standard end-of-data still never splits a message', async () => {
  const h = await startSmtpd({ smtpd_forbid_bare_newline: 'no' });
  try {
    for (const v of VARIANTS) {
      h.submissions.length = 0;
      const replies = await attempt(h, v);
      assert.equal(replies.filter((r) => r.startsWith('250 2.0.0')).length, 1, JSON.stringify(v));
      assert.equal(h.submissions.length, 1);
    }
  } finally {
    await h.stop();
  }
});
