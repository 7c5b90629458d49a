/** Access restrictions: each with an accepting and a refusing case, with Postfix's replies. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDnsServer } from '../../helpers/dns-server.js';
import { ehloSession, logLines, RawClient, startSmtpd, until, type Harness } from './smtpd-test-kit.js';

interface Attempt {
  helo?: string;
  from?: string;
  to: string;
}

/** MAIL then RCPT in a fresh session; returns the RCPT reply (or the MAIL reply when MAIL fails). */
async function rcpt(h: Harness, a: Attempt): Promise<string> {
  const c = await ehloSession(h.port, a.helo ?? 'client.test.example');
  try {
    const mail = (await c.cmd(`MAIL FROM:<${a.from ?? 's@test.example'}>`))!;
    if (!mail.startsWith('250')) return mail;
    return (await c.cmd(`RCPT TO:<${a.to}>`))!;
  } finally {
    c.close();
  }
}

function tableDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'smtpd-policy-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function withSmtpd(params: Record<string, string>, files: Record<string, string>, body: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startSmtpd(params, tableDir(files));
  try {
    await body(h);
  } finally {
    await h.stop();
  }
}

const STRANGER = { mynetworks: '192.0.2.0/24' };

test('not an open relay: relaying refused to strangers, allowed to mynetworks and for our domains', async () => {
  await withSmtpd(STRANGER, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@elsewhere.example' }), '454 4.7.1 <u@elsewhere.example>: Relay access denied');
    assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '250 2.1.5 Ok');
    assert.equal(await rcpt(h, { to: 'postmaster@localhost' }), '250 2.1.5 Ok');
  });
  await withSmtpd({ mynetworks: '127.0.0.0/8' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@elsewhere.example' }), '250 2.1.5 Ok');
  });
});

test('reject_unauth_destination: 554 5.7.1, relay_domains (and their subdomains) allowed', async () => {
  await withSmtpd({ ...STRANGER, smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination', relay_domains: 'relay.example' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@elsewhere.example' }), '554 5.7.1 <u@elsewhere.example>: Relay access denied');
    assert.equal(await rcpt(h, { to: 'u@relay.example' }), '250 2.1.5 Ok');
    assert.equal(await rcpt(h, { to: 'u@sub.relay.example' }), '250 2.1.5 Ok');
  });
});

test('check_client_access: REJECT text refuses, OK permits the list', async () => {
  await withSmtpd({ smtpd_client_restrictions: 'check_client_access texthash:clients' }, { clients: '127.0.0.1 REJECT go away\n' }, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: go away');
  });
  await withSmtpd({ smtpd_client_restrictions: 'check_client_access texthash:clients, reject' }, { clients: '127.0.0.1 OK\n' }, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '250 2.1.5 Ok');
  });
});

test('check_helo_access, reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname', async () => {
  await withSmtpd(
    { smtpd_helo_restrictions: 'check_helo_access texthash:helos, reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname' },
    { helos: 'bad.example REJECT\n' },
    async (h) => {
      assert.equal(await rcpt(h, { helo: 'bad.example', to: 'u@mx.test.example' }), '554 5.7.1 <bad.example>: Helo command rejected: Access denied');
      assert.equal(await rcpt(h, { helo: 'sub.bad.example', to: 'u@mx.test.example' }), '554 5.7.1 <sub.bad.example>: Helo command rejected: Access denied');
      assert.equal(await rcpt(h, { helo: 'shorty', to: 'u@mx.test.example' }), '504 5.5.2 <shorty>: Helo command rejected: need fully-qualified hostname');
      assert.equal(await rcpt(h, { helo: 'bad_name!.example', to: 'u@mx.test.example' }), '501 5.5.2 <bad_name!.example>: Helo command rejected: Invalid name');
      assert.equal(await rcpt(h, { helo: 'good.example', to: 'u@mx.test.example' }), '250 2.1.5 Ok');
    },
  );
});

test('check_sender_access (evaluated at RCPT): numeric reply, DEFER, OK; reject_non_fqdn_sender', async () => {
  await withSmtpd(
    { smtpd_sender_restrictions: 'check_sender_access texthash:senders, reject_non_fqdn_sender' },
    { senders: 'spam.example 550 5.7.0 No spam please\nlater.example DEFER\n' },
    async (h) => {
      assert.equal(await rcpt(h, { from: 'x@spam.example', to: 'u@mx.test.example' }), '550 5.7.0 <x@spam.example>: Sender address rejected: No spam please');
      assert.equal(await rcpt(h, { from: 'x@later.example', to: 'u@mx.test.example' }), '450 4.7.1 <x@later.example>: Sender address rejected: Access denied');
      assert.equal(await rcpt(h, { from: 'x@localhost', to: 'u@mx.test.example' }), '504 5.5.2 <x@localhost>: Sender address rejected: need fully-qualified address');
      assert.equal(await rcpt(h, { from: 'x@fine.example', to: 'u@mx.test.example' }), '250 2.1.5 Ok');
    },
  );
});

test('check_recipient_access with a restriction name as result; reject_non_fqdn_recipient', async () => {
  await withSmtpd(
    { smtpd_recipient_restrictions: 'check_recipient_access texthash:rcpts, reject_non_fqdn_recipient' },
    { rcpts: 'blocked@mx.test.example REJECT no such luck\nvip@mx.test.example permit\nodd@mx.test.example reject\n' },
    async (h) => {
      assert.equal(await rcpt(h, { to: 'blocked@mx.test.example' }), '554 5.7.1 <blocked@mx.test.example>: Recipient address rejected: no such luck');
      assert.equal(await rcpt(h, { to: 'odd@mx.test.example' }), '554 5.7.1 <odd@mx.test.example>: Recipient address rejected: Access denied');
      assert.equal(await rcpt(h, { to: 'vip@mx.test.example' }), '250 2.1.5 Ok');
      assert.equal(await rcpt(h, { to: 'u@localhost' }), '504 5.5.2 <u@localhost>: Recipient address rejected: need fully-qualified address');
      assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '250 2.1.5 Ok');
    },
  );
});

test('permit, reject, defer and warn_if_reject', async () => {
  await withSmtpd({ smtpd_recipient_restrictions: 'reject' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '554 5.7.1 <u@mx.test.example>: Recipient address rejected: Access denied');
  });
  await withSmtpd({ smtpd_recipient_restrictions: 'defer' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '450 4.7.1 <u@mx.test.example>: Recipient address rejected: Try again later');
  });
  await withSmtpd({ smtpd_recipient_restrictions: 'permit, reject' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '250 2.1.5 Ok');
  });
  await withSmtpd({ smtpd_recipient_restrictions: 'warn_if_reject reject' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'warned@mx.test.example' }), '250 2.1.5 Ok');
    await until(() => logLines.some((l) => l.includes('reject_warning: RCPT from localhost[127.0.0.1]: 554 5.7.1 <warned@mx.test.example>: Recipient address rejected: Access denied')));
  });
});

test('reject_unlisted_recipient for a virtual mailbox domain: 550 5.1.1 User unknown', async () => {
  await withSmtpd(
    { virtual_mailbox_domains: 'v.example', virtual_mailbox_maps: 'texthash:vmailbox', smtpd_recipient_restrictions: 'reject_unlisted_recipient' },
    { vmailbox: 'known@v.example v.example/known/\n' },
    async (h) => {
      assert.equal(await rcpt(h, { to: 'known@v.example' }), '250 2.1.5 Ok');
      assert.equal(await rcpt(h, { to: 'nobody@v.example' }), '550 5.1.1 <nobody@v.example>: Recipient address rejected: User unknown in virtual mailbox table');
    },
  );
});

test('smtpd_reject_unlisted_recipient (default yes) refuses unknown virtual recipients without a restriction; no turns it off', async () => {
  const files = { vmailbox: 'known@v.example v.example/known/\n' };
  const virt = { virtual_mailbox_domains: 'v.example', virtual_mailbox_maps: 'texthash:vmailbox' };
  await withSmtpd(virt, files, async (h) => {
    assert.equal(await rcpt(h, { to: 'nobody@v.example' }), '550 5.1.1 <nobody@v.example>: Recipient address rejected: User unknown in virtual mailbox table');
  });
  await withSmtpd({ ...virt, smtpd_reject_unlisted_recipient: 'no' }, files, async (h) => {
    assert.equal(await rcpt(h, { to: 'nobody@v.example' }), '250 2.1.5 Ok');
  });
});

test('smtpd_reject_unlisted_sender = yes (and reject_unlisted_sender): 550 5.1.0 for an unknown sender in a virtual domain', async () => {
  const files = { vmailbox: 'known@v.example v.example/known/\n' };
  const virt = { virtual_mailbox_domains: 'v.example', virtual_mailbox_maps: 'texthash:vmailbox' };
  await withSmtpd({ ...virt, smtpd_reject_unlisted_sender: 'yes' }, files, async (h) => {
    assert.equal(await rcpt(h, { from: 'forged@v.example', to: 'u@mx.test.example' }), '550 5.1.0 <forged@v.example>: Sender address rejected: User unknown in virtual mailbox table');
    assert.equal(await rcpt(h, { from: 'known@v.example', to: 'u@mx.test.example' }), '250 2.1.5 Ok');
    assert.equal(await rcpt(h, { from: '', to: 'u@mx.test.example' }), '250 2.1.5 Ok');
  });
  // Postfix's default is no: the same forged sender passes, unless the restriction is named.
  await withSmtpd(virt, files, async (h) => {
    assert.equal(await rcpt(h, { from: 'forged@v.example', to: 'u@mx.test.example' }), '250 2.1.5 Ok');
  });
  await withSmtpd({ ...virt, smtpd_sender_restrictions: 'reject_unlisted_sender' }, files, async (h) => {
    assert.equal(await rcpt(h, { from: 'forged@v.example', to: 'u@mx.test.example' }), '550 5.1.0 <forged@v.example>: Sender address rejected: User unknown in virtual mailbox table');
  });
});

test('smtpd_end_of_data_restrictions refuse after the content, and nothing is queued', async () => {
  await withSmtpd({ ...STRANGER, smtpd_end_of_data_restrictions: 'check_client_access texthash:clients' }, { clients: '127.0.0.1 REJECT no mail from you\n' }, async (h) => {
    const c = await ehloSession(h.port);
    await c.cmd('MAIL FROM:<s@test.example>');
    assert.equal(await c.cmd('RCPT TO:<u@mx.test.example>'), '250 2.1.5 Ok');
    assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    assert.equal(await c.cmd('Subject: x\r\n\r\ny\r\n.'), '554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: no mail from you');
    assert.equal(h.submissions.length, 0);
    // The session goes on.
    assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
    c.close();
    await until(() => logLines.some((l) => /: reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 554 5\.7\.1 <localhost\[127\.0\.0\.1\]>: Client host rejected: no mail from you; from=<s@test\.example> to=<u@mx\.test\.example> proto=ESMTP helo=<client\.test\.example>/.test(l)));
  });
  await withSmtpd({ smtpd_end_of_data_restrictions: 'reject' }, {}, async (h) => {
    const c = await ehloSession(h.port);
    await c.cmd('MAIL FROM:<s@test.example>');
    await c.cmd('RCPT TO:<u@mx.test.example>');
    await c.cmd('RCPT TO:<v@mx.test.example>');
    await c.cmd('DATA');
    assert.equal(await c.cmd('Subject: x\r\n\r\ny\r\n.'), '554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied');
    assert.equal(h.submissions.length, 0);
    c.close();
  });
  await withSmtpd({ ...STRANGER, smtpd_end_of_data_restrictions: 'check_client_access texthash:clients' }, { clients: '192.0.2.9 REJECT\n' }, async (h) => {
    const c = await ehloSession(h.port);
    await c.cmd('MAIL FROM:<s@test.example>');
    await c.cmd('RCPT TO:<u@mx.test.example>');
    await c.cmd('DATA');
    assert.match((await c.cmd('Subject: x\r\n\r\ny\r\n.'))!, /^250 2\.0\.0 Ok: queued as/);
    c.close();
  });
});

test('smtpd_data_restrictions refuse DATA before the 354', async () => {
  await withSmtpd({ smtpd_data_restrictions: 'reject' }, {}, async (h) => {
    const c = await ehloSession(h.port);
    await c.cmd('MAIL FROM:<s@test.example>');
    await c.cmd('RCPT TO:<u@mx.test.example>');
    assert.equal(await c.cmd('DATA'), '554 5.7.1 <DATA>: Data command rejected: Access denied');
    assert.equal(h.submissions.length, 0);
    c.close();
  });
});

test('reject_unknown_sender_domain / reject_unknown_recipient_domain / reject_rbl_client with a DNS server on loopback', async () => {
  const dns = await startDnsServer({
    'known.example': { A: ['192.0.2.10'] },
    'mxonly.example': { MX: [{ preference: 10, exchange: 'mx.mxonly.example' }] },
    'dest.example': { A: ['192.0.2.11'] },
    '1.0.0.127.rbl.test': { A: ['127.0.0.2'] },
  });
  try {
    await withSmtpd(
      {
        dns_resolver_servers: `${dns.address}:${dns.port}`,
        mynetworks: '127.0.0.0/8',
        smtpd_sender_restrictions: 'reject_unknown_sender_domain',
        smtpd_recipient_restrictions: 'reject_unknown_recipient_domain',
      },
      {},
      async (h) => {
        assert.equal(await rcpt(h, { from: 'a@known.example', to: 'u@dest.example' }), '250 2.1.5 Ok');
        assert.equal(await rcpt(h, { from: 'a@mxonly.example', to: 'u@dest.example' }), '250 2.1.5 Ok');
        assert.equal(await rcpt(h, { from: 'a@nowhere.example', to: 'u@dest.example' }), '450 4.1.8 <a@nowhere.example>: Sender address rejected: Domain not found');
        assert.equal(await rcpt(h, { from: 'a@known.example', to: 'u@nowhere.example' }), '450 4.1.2 <u@nowhere.example>: Recipient address rejected: Domain not found');
      },
    );
    await withSmtpd({ dns_resolver_servers: `${dns.address}:${dns.port}`, smtpd_client_restrictions: 'reject_rbl_client clean.test, reject_rbl_client rbl.test' }, {}, async (h) => {
      assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using rbl.test');
    });
    await withSmtpd({ dns_resolver_servers: `${dns.address}:${dns.port}`, smtpd_client_restrictions: 'reject_rbl_client clean.test' }, {}, async (h) => {
      assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '250 2.1.5 Ok');
    });
    assert.ok(dns.queries.includes('1.0.0.127.rbl.test A'));
  } finally {
    await dns.close();
  }
});

test('a missing table or an unknown restriction answers 451 4.3.5 Server configuration error', async () => {
  await withSmtpd({ smtpd_client_restrictions: 'check_client_access texthash:does-not-exist' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '451 4.3.5 Server configuration error');
  });
  await withSmtpd({ smtpd_recipient_restrictions: 'reject_everything_please' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '451 4.3.5 Server configuration error');
    await until(() => logLines.some((l) => l.includes('warning: smtpd restriction: unknown restriction "reject_everything_please"')));
  });
});

const LOCAL_UNKNOWN = (rcpt: string): string => `550 5.1.1 <${rcpt}>: Recipient address rejected: User unknown in local recipient table`;

test('local_recipient_maps (Postfix\'s default: the passwd database and alias_maps) refuses unknown local users at RCPT; users, aliases and rewritten addresses pass', async () => {
  const tables = {
    aliases: '# aliases(5)\npostmaster: root\nsysadmins:\n  root, someone@elsewhere.example\n',
    virtual: 'aliased@mx.test.example someone@elsewhere.example\n',
  };
  const localDefaults = { local_transport: 'local:$myhostname', local_recipient_maps: 'proxy:unix:passwd.byname hash:aliases', alias_maps: 'hash:aliases' };
  for (const mynetworks of ['127.0.0.0/8', '192.0.2.0/24']) {
    await withSmtpd({ mynetworks, ...localDefaults, virtual_alias_maps: 'texthash:virtual', recipient_delimiter: '+' }, tables, async (h) => {
      assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), LOCAL_UNKNOWN('u@mx.test.example'));
      assert.equal(await rcpt(h, { to: 'root@mx.test.example' }), '250 2.1.5 Ok');
      assert.equal(await rcpt(h, { to: 'root+cron@localhost' }), '250 2.1.5 Ok');
      assert.equal(await rcpt(h, { to: 'postmaster@localhost' }), '250 2.1.5 Ok');
      assert.equal(await rcpt(h, { to: 'SysAdmins@mx.test.example' }), '250 2.1.5 Ok');
      assert.equal(await rcpt(h, { to: 'aliased@mx.test.example' }), '250 2.1.5 Ok');
      assert.equal(h.submissions.length, 0);
    });
  }
  await until(() => logLines.some((l) => /NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 <u@mx\.test\.example>: Recipient address rejected: User unknown in local recipient table; from=<s@test\.example> to=<u@mx\.test\.example>/.test(l)));
  // unknown_local_recipient_reject_code and show_user_unknown_table_name shape the reply.
  await withSmtpd({ ...localDefaults, unknown_local_recipient_reject_code: '450', show_user_unknown_table_name: 'no' }, tables, async (h) => {
    assert.equal(await rcpt(h, { to: 'u@mx.test.example' }), '450 4.1.1 <u@mx.test.example>: Recipient address rejected: User unknown');
  });
});

test('local_recipient_maps: with a local_transport that delivers, unknown local users are refused; empty accepts every one', async () => {
  await withSmtpd({ local_recipient_maps: 'texthash:users', recipient_delimiter: '+' }, { users: 'alice x\n' }, async (h) => {
    assert.equal(await rcpt(h, { to: 'alice@mx.test.example' }), '250 2.1.5 Ok');
    assert.equal(await rcpt(h, { to: 'alice+news@mx.test.example' }), '250 2.1.5 Ok');
    assert.equal(await rcpt(h, { to: 'bob@mx.test.example' }), LOCAL_UNKNOWN('bob@mx.test.example'));
  });
  await withSmtpd({ local_recipient_maps: '' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'bob@mx.test.example' }), '250 2.1.5 Ok');
  });
});

test('relay_recipient_maps refuse unknown relay recipients (unknown_relay_recipient_reject_code); virtual alias domains use unknown_virtual_alias_reject_code', async () => {
  await withSmtpd(
    { relay_domains: 'relay.example', relay_recipient_maps: 'texthash:relayed', unknown_relay_recipient_reject_code: '551' },
    { relayed: 'known@relay.example x\n' },
    async (h) => {
      assert.equal(await rcpt(h, { to: 'known@relay.example' }), '250 2.1.5 Ok');
      assert.equal(await rcpt(h, { to: 'nobody@relay.example' }), '551 5.1.1 <nobody@relay.example>: Recipient address rejected: User unknown in relay recipient table');
    },
  );
  await withSmtpd({ relay_domains: 'relay.example' }, {}, async (h) => {
    assert.equal(await rcpt(h, { to: 'anyone@relay.example' }), '250 2.1.5 Ok', 'without relay_recipient_maps every relay recipient is accepted');
  });
  await withSmtpd(
    { virtual_alias_domains: 'alias.example', virtual_alias_maps: 'texthash:valias', unknown_virtual_alias_reject_code: '553' },
    // The domain's own line declares it; it does not make every user known.
    { valias: 'alias.example anything\nknown@alias.example someone@elsewhere.example\n' },
    async (h) => {
      assert.equal(await rcpt(h, { to: 'known@alias.example' }), '250 2.1.5 Ok');
      assert.equal(await rcpt(h, { to: 'nobody@alias.example' }), '553 5.1.1 <nobody@alias.example>: Recipient address rejected: User unknown in virtual alias table');
    },
  );
});

test('restriction classes (also named by an access table), a bare table for check_*_access, permit_auth_destination', async () => {
  await withSmtpd(
    {
      ...STRANGER,
      smtpd_restriction_classes: 'strict, lenient',
      strict: 'reject_non_fqdn_sender, reject',
      lenient: 'permit',
      smtpd_sender_restrictions: 'check_sender_access texthash:senders',
      smtpd_client_restrictions: 'texthash:clients',
      smtpd_relay_restrictions: 'permit_auth_destination, reject',
    },
    { senders: 'x@strict.example strict\nx@lenient.example lenient\n', clients: '127.0.0.2 REJECT bare table hit\n' },
    async (h) => {
      assert.equal(await rcpt(h, { from: 'x@strict.example', to: 'u@mx.test.example' }), '554 5.7.1 <x@strict.example>: Sender address rejected: Access denied');
      assert.equal(await rcpt(h, { from: 'x@lenient.example', to: 'u@mx.test.example' }), '250 2.1.5 Ok');
      // permit_auth_destination permits our own domains; anything else meets the reject.
      assert.equal(await rcpt(h, { to: 'u@elsewhere.example' }), '554 5.7.1 <u@elsewhere.example>: Recipient address rejected: Access denied');
      const c = await RawClient.open(h.port, '127.0.0.1', '127.0.0.2');
      try {
        await c.reply();
        await c.cmd('EHLO client.test.example');
        await c.cmd('MAIL FROM:<s@test.example>');
        assert.match((await c.cmd('RCPT TO:<u@mx.test.example>'))!, /^554 5\.7\.1 <[^>]*\[127\.0\.0\.2\]>: Client host rejected: bare table hit$/);
      } finally {
        c.close();
      }
    },
  );
  // A restriction class in a list, evaluated in place of its name; its permit permits the list.
  await withSmtpd({ smtpd_restriction_classes: 'gate', gate: 'check_recipient_access texthash:rcpts, reject', smtpd_recipient_restrictions: 'gate' }, { rcpts: 'ok@mx.test.example OK\n' }, async (h) => {
    assert.equal(await rcpt(h, { to: 'ok@mx.test.example' }), '250 2.1.5 Ok');
    assert.equal(await rcpt(h, { to: 'no@mx.test.example' }), '554 5.7.1 <no@mx.test.example>: Recipient address rejected: Access denied');
  });
});

test('smtpd_null_access_lookup_key: the null sender is looked up by that key', async () => {
  await withSmtpd({ smtpd_null_access_lookup_key: '<bounce>', smtpd_sender_restrictions: 'check_sender_access texthash:senders' }, { senders: '<bounce> REJECT no bounces here\n<> OK\n' }, async (h) => {
    assert.equal(await rcpt(h, { from: '', to: 'u@mx.test.example' }), '554 5.7.1 <>: Sender address rejected: no bounces here');
  });
  await withSmtpd({ smtpd_sender_restrictions: 'check_sender_access texthash:senders' }, { senders: '<bounce> REJECT no bounces here\n' }, async (h) => {
    assert.equal(await rcpt(h, { from: '', to: 'u@mx.test.example' }), '250 2.1.5 Ok');
  });
});

test('reply codes follow their parameters: reject_code, defer_code, relay_domains_reject_code, the access map codes, non_fqdn, invalid_hostname, unknown_address, maps_rbl, unknown_virtual_mailbox', async () => {
  const dns = await startDnsServer({ '1.0.0.127.rbl.test': { A: ['127.0.0.2'] } });
  try {
    const cases: Array<[Record<string, string>, Attempt, string]> = [
      [{ reject_code: '553', smtpd_recipient_restrictions: 'reject' }, { to: 'u@mx.test.example' }, '553 5.7.1 <u@mx.test.example>: Recipient address rejected: Access denied'],
      [{ defer_code: '451', smtpd_recipient_restrictions: 'defer' }, { to: 'u@mx.test.example' }, '451 4.7.1 <u@mx.test.example>: Recipient address rejected: Try again later'],
      [{ ...STRANGER, relay_domains_reject_code: '550', smtpd_relay_restrictions: 'reject_unauth_destination' }, { to: 'u@elsewhere.example' }, '550 5.7.1 <u@elsewhere.example>: Relay access denied'],
      [{ access_map_reject_code: '551', smtpd_recipient_restrictions: 'check_recipient_access inline:{ u@mx.test.example=REJECT }' }, { to: 'u@mx.test.example' }, '551 5.7.1 <u@mx.test.example>: Recipient address rejected: Access denied'],
      [{ access_map_defer_code: '452', smtpd_recipient_restrictions: 'check_recipient_access inline:{ u@mx.test.example=DEFER }' }, { to: 'u@mx.test.example' }, '452 4.7.1 <u@mx.test.example>: Recipient address rejected: Access denied'],
      [{ non_fqdn_reject_code: '554', smtpd_sender_restrictions: 'reject_non_fqdn_sender' }, { from: 'x@localhost', to: 'u@mx.test.example' }, '554 5.5.2 <x@localhost>: Sender address rejected: need fully-qualified address'],
      [{ invalid_hostname_reject_code: '550', smtpd_helo_restrictions: 'reject_invalid_helo_hostname' }, { helo: 'bad_name!.example', to: 'u@mx.test.example' }, '550 5.5.2 <bad_name!.example>: Helo command rejected: Invalid name'],
      [{ unknown_address_reject_code: '553', dns_resolver_servers: `${dns.address}:${dns.port}`, smtpd_sender_restrictions: 'reject_unknown_sender_domain' }, { from: 'a@nowhere.example', to: 'u@mx.test.example' }, '553 5.1.8 <a@nowhere.example>: Sender address rejected: Domain not found'],
      [{ maps_rbl_reject_code: '550', dns_resolver_servers: `${dns.address}:${dns.port}`, smtpd_client_restrictions: 'reject_rbl_client rbl.test' }, { to: 'u@mx.test.example' }, '550 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using rbl.test'],
      [{ unknown_virtual_mailbox_reject_code: '551', virtual_mailbox_domains: 'v.example', virtual_mailbox_maps: 'inline:{ known@v.example=v/ }' }, { to: 'nobody@v.example' }, '551 5.1.1 <nobody@v.example>: Recipient address rejected: User unknown in virtual mailbox table'],
    ];
    for (const [params, attempt, reply] of cases) {
      await withSmtpd(params, {}, async (h) => {
        assert.equal(await rcpt(h, attempt), reply, JSON.stringify(params));
      });
    }
  } finally {
    await dns.close();
  }
});

const HOSTILE_LOCAL = 'a'.repeat(40) + '!';

test('check_recipient_access regexp: /^(a+)+$/: the hostile recipient gets its normal reply at once (RE2, no backtracking)', async () => {
  await withSmtpd({ smtpd_recipient_restrictions: 'check_recipient_access regexp:rcpt_access' }, { rcpt_access: '/^(a+)+$/ REJECT\n/^(a+)+@/ REJECT all a\n' }, async (h) => {
    assert.equal(await rcpt(h, { to: `${HOSTILE_LOCAL}@mx.test.example` }), '250 2.1.5 Ok');
    assert.equal(await rcpt(h, { to: 'aaaa@mx.test.example' }), '554 5.7.1 <aaaa@mx.test.example>: Recipient address rejected: all a');
  });
});

test('a check_*_access lookup that runs out of its budget answers 451 4.3.5 as Postfix, and the session goes on', async () => {
  await withSmtpd(
    { smtpd_recipient_restrictions: 'check_recipient_access pcre:rcpt_backref' },
    { rcpt_backref: '/^(a+)+\\1@/ REJECT backreference\n' },
    async (h) => {
      const c = await ehloSession(h.port);
      try {
        assert.equal(await c.cmd('MAIL FROM:<s@test.example>'), '250 2.1.0 Ok');
        const to = `${HOSTILE_LOCAL}@mx.test.example`;
        assert.equal(await c.cmd(`RCPT TO:<${to}>`), `451 4.3.5 <${to}>: Recipient address rejected: Server configuration error`);
        assert.equal(await c.cmd('RCPT TO:<aa@mx.test.example>'), '554 5.7.1 <aa@mx.test.example>: Recipient address rejected: backreference');
        assert.equal(await c.cmd('RCPT TO:<bob@mx.test.example>'), '250 2.1.5 Ok');
      } finally {
        c.close();
      }
      await until(() => logLines.some((l) => l.endsWith(`warning: pcre:rcpt_backref lookup error for "${HOSTILE_LOCAL}@mx.test.example"`)));
      assert.ok(logLines.some((l) => /warning: pcre map .*rcpt_backref, line 1: match time limit of \d+ ms exceeded$/.test(l)));
    },
  );
});

test('reject_unlisted_recipient with a recipient map that cannot answer: 451 4.3.0 Temporary lookup failure', async () => {
  await withSmtpd(
    { virtual_mailbox_domains: 'v.example', virtual_mailbox_maps: 'pcre:vmailbox', smtpd_recipient_restrictions: 'reject_unlisted_recipient' },
    { vmailbox: '/^(a+)+\\1@/ v.example/a/\n/^known@/ v.example/known/\n' },
    async (h) => {
      assert.equal(await rcpt(h, { to: 'known@v.example' }), '250 2.1.5 Ok');
      assert.equal(await rcpt(h, { to: `${HOSTILE_LOCAL}@v.example` }), `451 4.3.0 <${HOSTILE_LOCAL}@v.example>: Temporary lookup failure`);
      assert.equal(await rcpt(h, { to: 'nobody@v.example' }), '550 5.1.1 <nobody@v.example>: Recipient address rejected: User unknown in virtual mailbox table');
    },
  );
});

test("each refusal carries its restriction's reason code, whatever its reply text says", async () => {
  const { SmtpdPolicy } = await import('../../../src/actors/smtpd/smtpd-policy.js');
  const { readSmtpdSettings } = await import('../../../src/actors/smtpd/smtpd-settings.js');
  const { SmtpdDns } = await import('../../../src/actors/smtpd/smtpd-dns.js');
  const { MainConfig } = await import('../../../src/config/main-config.js');
  const { Logger } = await import('../../../src/util/log.js');
  const dir = tableDir({ access: 'liar@mx.test.example REJECT Relay access denied, User unknown\n' });
  const config = new MainConfig({
    myhostname: 'mx.test.example',
    mydestination: 'mx.test.example',
    mynetworks: '192.0.2.0/24',
    smtpd_sender_restrictions: 'reject_non_fqdn_sender',
    smtpd_recipient_restrictions: `check_recipient_access texthash:${join(dir, 'access')}, nonsense_restriction`,
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
  }, dir);
  const s = readSmtpdSettings(config);
  const policy = new SmtpdPolicy(s, dir, new SmtpdDns(s.dnsServers), new Logger('smtpd', 'test'));
  const ctx = { clientName: 'client.example', clientAddr: '198.51.100.1', helo: 'client.example', sender: 's@test.example' };
  const relay = await policy.checkRecipient({ ...ctx, recipient: 'u@elsewhere.example' });
  assert.equal(relay.reason, 'relay_access_denied');
  const access = await policy.checkRecipient({ ...ctx, recipient: 'liar@mx.test.example' });
  assert.match(access.reject!.text, /Relay access denied, User unknown/);
  assert.equal(access.reason, 'recipient_rejected', 'the access table refused, not relay control');
  assert.equal((await policy.checkRecipient({ ...ctx, sender: 'bare', recipient: 'u@mx.test.example' })).reason, 'non_fqdn');
  assert.equal((await policy.checkRecipient({ ...ctx, recipient: 'other@mx.test.example' })).reason, 'config_error');
  const ok = await policy.checkData({ ...ctx, recipient: undefined });
  assert.equal(ok.reject, undefined);
  assert.equal(ok.reason, undefined);
});

test('receive_override_options = no_unknown_recipient_checks: a service that takes mail back from a content filter accepts unknown local users', async () => {
  await withSmtpd({ local_recipient_maps: 'texthash:users', receive_override_options: 'no_unknown_recipient_checks' }, { users: 'alice x\n' }, async (h) => {
    assert.equal(await rcpt(h, { to: 'nobody@mx.test.example' }), '250 2.1.5 Ok');
  });
  await withSmtpd({ local_recipient_maps: 'texthash:users', receive_override_options: 'no_header_body_checks' }, { users: 'alice x\n' }, async (h) => {
    assert.match(await rcpt(h, { to: 'nobody@mx.test.example' }), /^550 5\.1\.1 /);
  });
});
