/**
 * The milter client against a scripted milter on a unix socket (the wire
 * format read by the project's own PacketReader): the negotiation that
 * milter_protocol sets, steps skipped as the milter asks, the macros of each
 * stage, the time limits, and milter_default_action for a milter that is
 * down. The full modification set is proved against libmilter in
 * test/e2e/milters.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MainConfig } from '../../src/config/main-config.js';
import { readMilterSettings } from '../../src/config/milter-settings.js';
import { MilterSession } from '../../src/global/milter-session.js';
import { encodePacket, PacketReader, readStrings, SMFIC, SMFIP, SMFIR, uint32s, type MilterPacket } from '../../src/global/milter-protocol.js';
import { Logger } from '../../src/util/log.js';

interface Seen {
  packets: MilterPacket[];
}

/**
 * A scripted milter: `answer` gets each packet and returns the replies to
 * send (none for packets without an answer); OPTNEG is answered with
 * `optneg(version, actions, protocol)` of what the MTA offered.
 */
async function fakeMilter(
  answer: (p: MilterPacket, sock: Socket) => Buffer[] | undefined,
  optneg: (offer: { version: number; actions: number; protocol: number }) => Buffer | undefined = (o) => encodePacket(SMFIR.OPTNEG, uint32s(o.version, 0, 0)),
): Promise<{ path: string; seen: Seen; server: Server; offers: Array<{ version: number; actions: number; protocol: number }> }> {
  const path = join(mkdtempSync(join(tmpdir(), 'postrider-milter-unit-')), 'm.sock');
  const seen: Seen = { packets: [] };
  const offers: Array<{ version: number; actions: number; protocol: number }> = [];
  const server = createServer((sock) => {
    const reader = new PacketReader();
    sock.on('error', () => undefined);
    sock.on('data', (chunk) => {
      for (const p of reader.push(chunk)) {
        seen.packets.push(p);
        if (p.cmd === SMFIC.OPTNEG) {
          const offer = { version: p.data.readUInt32BE(0), actions: p.data.readUInt32BE(4), protocol: p.data.readUInt32BE(8) };
          offers.push(offer);
          const reply = optneg(offer);
          if (reply) sock.write(reply);
          continue;
        }
        for (const r of answer(p, sock) ?? []) sock.write(r);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, seen, server, offers };
}

const CONTINUE = encodePacket(SMFIR.CONTINUE);
/** Every event that expects an answer gets CONTINUE. */
const continueAll = (p: MilterPacket): Buffer[] | undefined => (p.cmd === SMFIC.MACRO || p.cmd === SMFIC.ABORT || p.cmd === SMFIC.QUIT ? undefined : [CONTINUE]);

function session(params: Record<string, string>, macros: Record<string, string> = {}): { s: MilterSession; warnings: string[] } {
  const warnings: string[] = [];
  const log = new Logger('test', 0);
  (log as unknown as { warning: (t: string) => void }).warning = (t) => warnings.push(t);
  const settings = readMilterSettings(new MainConfig({ myhostname: 'mx.test', ...params }, '/'), 'smtpd');
  return { s: new MilterSession(settings, (n) => macros[n], log), warnings };
}

/** The macros sent before the event `cmd`, as name -> value. */
function macrosFor(seen: Seen, cmd: number): Record<string, string> {
  const p = seen.packets.find((x) => x.cmd === SMFIC.MACRO && x.data[0] === cmd);
  if (!p) return {};
  const list = readStrings(p.data, 1);
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

const CONTENT = () => ({ headers: [{ name: 'Subject', value: ' hi' }], body: Buffer.from('body\r\n') });
const NO_EDITS = {
  addHeader: () => undefined,
  insertHeader: () => undefined,
  changeHeader: () => undefined,
  addRecipient: () => undefined,
  deleteRecipient: () => undefined,
  changeSender: () => undefined,
  replaceBody: () => undefined,
};

test('milter_protocol sets the version and the steps offered at negotiation; a version 2 milter is never sent DATA', async () => {
  const m = await fakeMilter(continueAll);
  try {
    for (const version of ['6', '2']) {
      const { s } = session({ smtpd_milters: `unix:${m.path}`, milter_protocol: version });
      assert.equal(await s.connect({ name: 'client.test', addr: '192.0.2.1', port: 4000 }), undefined);
      await s.mail('a@b.test', []);
      assert.equal(await s.data(), undefined);
      s.close();
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(m.offers.map((o) => o.version), [6, 2]);
    assert.equal(m.offers[0].actions, 0x1ff, 'every modification offered');
    assert.ok((m.offers[0].protocol & SMFIP.NR_HDR) !== 0 && (m.offers[0].protocol & SMFIP.HDR_LEADSPC) !== 0, 'version 6 offers the no-reply steps');
    assert.equal(m.offers[1].protocol, 0x7f, 'version 2 offers only NOCONNECT .. NOEOH');
    // DATA went to the version 6 milter only.
    assert.equal(m.seen.packets.filter((p) => p.cmd === SMFIC.DATA).length, 1);
    const connect = m.seen.packets.find((p) => p.cmd === SMFIC.CONNECT)!;
    assert.equal(readStrings(connect.data)[0], 'client.test');
    assert.equal(String.fromCharCode(connect.data[connect.data.indexOf(0) + 1]), '4');
    assert.equal(connect.data.readUInt16BE(connect.data.indexOf(0) + 2), 4000);
  } finally {
    m.server.close();
  }
});

test('steps the milter asks to skip (SMFIP_NO*) are not sent, and SMFIP_NR_* steps are not waited for', async () => {
  const m = await fakeMilter(
    (p) => (p.cmd === SMFIC.MACRO || p.cmd === SMFIC.HEADER || p.cmd === SMFIC.QUIT ? undefined : [CONTINUE]),
    () => encodePacket(SMFIR.OPTNEG, uint32s(6, 0, SMFIP.NOHELO | SMFIP.NORCPT | SMFIP.NOBODY | SMFIP.NR_HDR)),
  );
  try {
    const { s } = session({ smtpd_milters: `unix:${m.path}` });
    await s.connect({ name: 'c', addr: '192.0.2.1', port: 1 });
    await s.helo('client.test');
    await s.mail('a@b.test', ['SIZE=10']);
    await s.rcpt('r@b.test', []);
    await s.data();
    assert.equal(await s.message(CONTENT, NO_EDITS), undefined);
    s.close();
    await new Promise((r) => setTimeout(r, 100));
    const cmds = m.seen.packets.filter((p) => p.cmd !== SMFIC.MACRO).map((p) => String.fromCharCode(p.cmd)).join('');
    assert.equal(cmds, 'OCMTLNEQ', 'no HELO, RCPT or BODY; the header went without waiting for an answer');
    assert.deepEqual(readStrings(m.seen.packets.find((p) => p.cmd === SMFIC.MAIL)!.data), ['<a@b.test>', 'SIZE=10']);
    assert.deepEqual(readStrings(m.seen.packets.find((p) => p.cmd === SMFIC.HEADER)!.data), ['Subject', 'hi'], 'the leading space is dropped without SMFIP_HDR_LEADSPC');
  } finally {
    m.server.close();
  }
});

test('the milter_*_macros lists decide the macros of each stage (milter_macro_daemon_name and milter_macro_v included)', async () => {
  const m = await fakeMilter(continueAll);
  try {
    const values = { '{j}': 'mx.test', '{daemon_name}': 'named-daemon', '{v}': 'Postrider 0.1.0', '{_}': 'c [192.0.2.1]', '{i}': 'QID1', '{mail_addr}': 'a@b.test', '{rcpt_addr}': 'r@b.test', '{client_addr}': '192.0.2.1' };
    const { s } = session(
      {
        smtpd_milters: `unix:${m.path}`,
        milter_connect_macros: 'j {daemon_name} v _',
        milter_helo_macros: '{client_addr}',
        milter_mail_macros: 'i {mail_addr}',
        milter_rcpt_macros: '{rcpt_addr}',
        milter_data_macros: 'i',
        milter_end_of_header_macros: 'j',
        milter_end_of_data_macros: 'i',
      },
      values,
    );
    await s.connect({ name: 'c', addr: '192.0.2.1', port: 1 });
    await s.helo('h');
    await s.mail('a@b.test', []);
    await s.rcpt('r@b.test', []);
    await s.data();
    await s.message(CONTENT, NO_EDITS);
    s.close();
    assert.deepEqual(macrosFor(m.seen, SMFIC.CONNECT), { j: 'mx.test', '{daemon_name}': 'named-daemon', v: 'Postrider 0.1.0', _: 'c [192.0.2.1]' });
    assert.deepEqual(macrosFor(m.seen, SMFIC.HELO), { '{client_addr}': '192.0.2.1' });
    assert.deepEqual(macrosFor(m.seen, SMFIC.MAIL), { i: 'QID1', '{mail_addr}': 'a@b.test' });
    assert.deepEqual(macrosFor(m.seen, SMFIC.RCPT), { '{rcpt_addr}': 'r@b.test' });
    assert.deepEqual(macrosFor(m.seen, SMFIC.DATA), { i: 'QID1' });
    assert.deepEqual(macrosFor(m.seen, SMFIC.EOH), { j: 'mx.test' });
    assert.deepEqual(macrosFor(m.seen, SMFIC.BODYEOB), { i: 'QID1' });
  } finally {
    m.server.close();
  }
});

test('milter_connect_timeout and milter_command_timeout: a milter that does not answer gets milter_default_action (tempfail, reject, accept, quarantine)', async () => {
  const silentNegotiation = await fakeMilter(continueAll, () => undefined);
  const silentMail = await fakeMilter((p) => (p.cmd === SMFIC.MAIL || p.cmd === SMFIC.MACRO ? undefined : [CONTINUE]));
  try {
    const a = session({ smtpd_milters: `unix:${silentNegotiation.path}`, milter_connect_timeout: '300ms' });
    const t0 = Date.now();
    assert.deepEqual(await a.s.connect({ name: 'c', addr: '192.0.2.1', port: 1 }), { action: 'reply', reply: '451 4.7.1 Service unavailable - try again later' });
    assert.ok(Date.now() - t0 < 5000);
    assert.match(a.warnings.join('\n'), /connect to Milter service unix:\S+: can't read SMFIC_OPTNEG reply packet header: Connection timed out/);
    a.s.close();
    for (const [action, expect] of [
      ['reject', { action: 'reply', reply: '550 5.5.0 Service unavailable' }],
      ['accept', undefined],
      ['quarantine', { action: 'hold', reason: 'default_action' }],
    ] as const) {
      const b = session({ smtpd_milters: `unix:${silentMail.path}`, milter_command_timeout: '300ms', milter_default_action: action });
      assert.equal(await b.s.connect({ name: 'c', addr: '192.0.2.1', port: 1 }), undefined);
      assert.deepEqual(await b.s.mail('a@b.test', []), expect, action);
      assert.match(b.warnings.join('\n'), /can't read SMFIC_MAIL reply packet header: Connection timed out/);
      // The failure holds for the rest of the session.
      assert.deepEqual(await b.s.rcpt('r@b.test', []), expect);
      b.s.close();
    }
  } finally {
    silentNegotiation.server.close();
    silentMail.server.close();
  }
});

test('a reject at CONNECT holds for every later command of the session; accept at CONNECT ends the milter\'s part', async () => {
  const rejecting = await fakeMilter((p) => (p.cmd === SMFIC.CONNECT ? [encodePacket(SMFIR.REPLYCODE, Buffer.from('554 5.7.1 go away\0'))] : continueAll(p)));
  const accepting = await fakeMilter((p) => (p.cmd === SMFIC.CONNECT ? [encodePacket(SMFIR.ACCEPT)] : continueAll(p)));
  try {
    const r = session({ smtpd_milters: `unix:${rejecting.path}` });
    assert.deepEqual(await r.s.connect({ name: 'c', addr: '192.0.2.1', port: 1 }), { action: 'reply', reply: '554 5.7.1 go away' });
    assert.deepEqual(await r.s.mail('a@b.test', []), { action: 'reply', reply: '554 5.7.1 go away' });
    r.s.close();
    const a = session({ smtpd_milters: `unix:${accepting.path}` });
    assert.equal(await a.s.connect({ name: 'c', addr: '192.0.2.1', port: 1 }), undefined);
    assert.equal(await a.s.mail('a@b.test', []), undefined);
    a.s.close();
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(accepting.seen.packets.filter((p) => p.cmd === SMFIC.MAIL).length, 0, 'nothing more is sent after accept at CONNECT');
  } finally {
    rejecting.server.close();
    accepting.server.close();
  }
});

test('SMFIP_RCPT_REJ: a refused recipient goes only to the milters that asked for refused recipients; SMFIC_UNKNOWN carries milter_unknown_command_macros, and a milter that asked not to see unknown commands (or speaks version 2) gets none', async () => {
  const wantsAll = await fakeMilter(
    (p) => (p.cmd === SMFIC.UNKNOWN ? [encodePacket(SMFIR.REPLYCODE, Buffer.from('550 5.7.1 not here\0'))] : continueAll(p)),
    () => encodePacket(SMFIR.OPTNEG, uint32s(6, 0, SMFIP.RCPT_REJ)),
  );
  const plain = await fakeMilter(continueAll, () => encodePacket(SMFIR.OPTNEG, uint32s(6, 0, SMFIP.NOUNKNOWN)));
  const old = await fakeMilter(continueAll, () => encodePacket(SMFIR.OPTNEG, uint32s(2, 0, SMFIP.RCPT_REJ)));
  try {
    const values = { '{rcpt_addr}': 'Relay access denied', '{rcpt_mailer}': 'error', '{client_addr}': '192.0.2.1' };
    const rejecting = session({ smtpd_milters: `unix:${plain.path}, unix:${wantsAll.path}`, milter_unknown_command_macros: '{client_addr}' }, values);
    await rejecting.s.connect({ name: 'c', addr: '192.0.2.1', port: 1 });
    await rejecting.s.mail('a@b.test', []);
    assert.equal(rejecting.s.wantsRejected, true);
    await rejecting.s.rejectedRcpt('refused@b.test', []);
    assert.deepEqual(await rejecting.s.unknown('XFOO'), { action: 'reply', reply: '550 5.7.1 not here' }, 'the milter\'s reply to the unknown command');
    rejecting.s.close();
    const other = session({ smtpd_milters: `unix:${old.path}`, milter_protocol: '2' });
    await other.s.connect({ name: 'c', addr: '192.0.2.1', port: 1 });
    assert.equal(other.s.wantsRejected, false, 'SMFIP_RCPT_REJ is not offered to a version 2 milter');
    assert.equal(await other.s.rejectedRcpt('refused@b.test', []), undefined);
    assert.equal(await other.s.unknown('XFOO'), undefined);
    other.s.close();
    await new Promise((r) => setTimeout(r, 100));
    const rcpts = (m: typeof plain): string[] => m.seen.packets.filter((p) => p.cmd === SMFIC.RCPT).map((p) => readStrings(p.data)[0]);
    assert.deepEqual(rcpts(wantsAll), ['<refused@b.test>']);
    assert.deepEqual(macrosFor(wantsAll.seen, SMFIC.RCPT), { '{rcpt_addr}': 'Relay access denied', '{rcpt_mailer}': 'error' });
    assert.deepEqual(rcpts(plain), [], 'not asked for refused recipients');
    assert.deepEqual(rcpts(old), []);
    const unknowns = (m: typeof plain): string[] => m.seen.packets.filter((p) => p.cmd === SMFIC.UNKNOWN).map((p) => readStrings(p.data)[0]);
    assert.deepEqual(unknowns(wantsAll), ['XFOO']);
    assert.deepEqual(macrosFor(wantsAll.seen, SMFIC.UNKNOWN), { '{client_addr}': '192.0.2.1' }, 'milter_unknown_command_macros, sent with the unknown stage');
    assert.deepEqual(unknowns(plain), [], 'SMFIP_NOUNKNOWN');
    assert.deepEqual(unknowns(old), [], 'version 2 has no SMFIC_UNKNOWN');
  } finally {
    wantsAll.server.close();
    plain.server.close();
    old.server.close();
  }
});
