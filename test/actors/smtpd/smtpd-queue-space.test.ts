/** smtpd-queue-space: MAIL FROM is refused with 452 4.3.1 when the queue file system lacks room, as Postfix's smtpd_check_queue. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ehloSession, logLines, startSmtpd, until } from './smtpd-test-kit.js';

const queue = mkdtempSync(join(tmpdir(), 'smtpd-queue-'));
const st = statfsSync(queue);
const free = Number(st.bavail) * Number(st.bsize);

async function mailReply(params: Record<string, string>): Promise<string> {
  const h = await startSmtpd({ queue_directory: queue, ...params });
  try {
    const c = await ehloSession(h.port);
    const reply = (await c.cmd('MAIL FROM:<s@test.example>'))!;
    c.close();
    return reply;
  } finally {
    await h.stop();
  }
}

test('queue_minfree: MAIL FROM gets 452 4.3.1 Insufficient system storage when the queue file system has less free space', async () => {
  assert.equal(await mailReply({ queue_minfree: String(free * 4) }), '452 4.3.1 Insufficient system storage');
  await until(() => logLines.some((l) => /NOQUEUE: reject: MAIL from localhost\[127\.0\.0\.1\]: 452 4\.3\.1 Insufficient system storage; from=<s@test\.example>/.test(l)));
  await until(() => logLines.some((l) => l.includes('warning: not enough free space in mail queue:')));
  // Room enough (Postfix's default queue_minfree 0, and a small message_size_limit): accepted.
  assert.equal(await mailReply({ queue_minfree: '0', message_size_limit: '1000' }), '250 2.1.0 Ok');
});

test('the free space must also hold 1.5 x message_size_limit, whatever queue_minfree says', async () => {
  assert.equal(await mailReply({ queue_minfree: '0', message_size_limit: String(Math.ceil(free / 1.4)) }), '452 4.3.1 Insufficient system storage');
  assert.equal(await mailReply({ queue_minfree: '0', message_size_limit: String(Math.floor(free / 4)) }), '250 2.1.0 Ok');
});
