/**
 * The DATA-mode parser found by native searches gives smtp-server's result
 * exactly: random inputs made of CR, LF, dots and letters (a terminator,
 * an early one, none, or one split across chunks, with commands after it),
 * cut into random chunks, go through the library's own SMTPStream and
 * through one whose _feedDataStream is feedDataStream; the content, its
 * byte count, where the data ended and the commands parsed after it must
 * be equal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { feedDataStream } from '../../../src/actors/smtpd/smtpd-data-scan.js';
import { prng } from '../../helpers/prng.js';

interface Outcome {
  content: string;
  dataBytes: number;
  ended: boolean;
  commands: string[];
}

function run(chunks: Buffer[], fast: boolean): Promise<Outcome> {
  const parser = new SMTPStream();
  if (fast) parser._feedDataStream = (chunk, done) => feedDataStream(parser, chunk, done);
  const commands: string[] = [];
  parser.oncommand = (command: Buffer, callback?: () => void) => {
    commands.push(command.toString('latin1'));
    callback?.();
  };
  const data = parser.startDataMode();
  const out: Buffer[] = [];
  let ended = false;
  data.on('data', (d: Buffer) => out.push(d));
  data.on('end', () => {
    ended = true;
    parser.continue();
  });
  return new Promise((resolve, reject) => {
    parser.on('error', reject);
    parser.on('finish', () =>
      // The data stream's 'end' comes a turn after its last write.
      setImmediate(() => resolve({ content: Buffer.concat(out).toString('latin1'), dataBytes: parser.dataBytes, ended, commands })),
    );
    for (const c of chunks) parser.write(c);
    parser.end();
  });
}

function cut(input: Buffer, r: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length; ) {
    const n = 1 + Math.floor(r() * (r() < 0.5 ? 6 : 90));
    chunks.push(input.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

test('feedDataStream: a stuffed dot is dropped, the terminator ends the data and what follows is commands', async () => {
  const input = Buffer.from('line\r\n..dot\r\n.\r\nNOOP\r\nQUIT\r\n');
  const got = await run([input], true);
  assert.deepEqual(got, { content: 'line\r\n.dot\r\n', dataBytes: 12, ended: true, commands: ['NOOP', 'QUIT'] });
  // A first line "." sent stuffed is content, even when it arrives alone.
  const first = await run([Buffer.from('..'), Buffer.from('\r\n.\r\n')], true);
  assert.equal(first.content, '.\r\n');
  assert.ok(first.ended);
});

test('feedDataStream parses as smtp-server does, for 3,000 random inputs in random chunks', async () => {
  const alphabet = [0x0d, 0x0a, 0x2e, 0x2e, 0x61];
  for (let seed = 1; seed <= 3000; seed++) {
    const r = prng(seed);
    const body = Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => alphabet[Math.floor(r() * alphabet.length)]));
    const end = r() < 0.8 ? '\r\n.\r\nNOOP\r\nRSET\r\n' : '';
    const input = Buffer.concat([body, Buffer.from(end)]);
    const chunks = cut(input, r);
    const [reference, fast] = await Promise.all([run(chunks, false), run(chunks, true)]);
    assert.deepEqual(fast, reference, `seed ${seed}: ${JSON.stringify(input.toString('latin1'))}`);
  }
});

test('feedDataStream matches smtp-server on a 64 KiB message in socket-sized chunks', async () => {
  const r = prng(7);
  const lines: string[] = [];
  for (let size = 0; size < 65_536; ) {
    const line = (r() < 0.05 ? '..' : '') + 'x'.repeat(Math.floor(r() * 76));
    lines.push(line);
    size += line.length + 2;
  }
  const input = Buffer.from(lines.join('\r\n') + '\r\n.\r\nQUIT\r\n');
  const chunks = [input.subarray(0, 16_384), input.subarray(16_384, 49_152), input.subarray(49_152)];
  const [reference, fast] = await Promise.all([run(chunks, false), run(chunks, true)]);
  assert.deepEqual(fast, reference);
  assert.ok(fast.ended);
  assert.deepEqual(fast.commands, ['QUIT']);
});
