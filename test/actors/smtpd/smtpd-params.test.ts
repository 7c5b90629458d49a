/** smtpd-params and smtpd-verbs: the ESMTP parameter, VRFY and ETRN argument rules, with Postfix 3.7's replies. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressArgument, mailParameterError, rcptParameterError } from '../../../src/actors/smtpd/smtpd-params.js';
import { etrnArgument, vrfyArgument } from '../../../src/actors/smtpd/smtpd-verbs.js';

test('MAIL FROM parameters: the known ones pass; a bad value or an unknown option gets Postfix\'s reply naming it as written', () => {
  assert.equal(mailParameterError(['SIZE=10', 'BODY=8bitmime', 'SMTPUTF8', 'RET=HDRS', 'ENVID=a+2Bb', 'AUTH=<>'], true), undefined);
  assert.deepEqual(mailParameterError(['SMTPUTF8'], false), { code: 555, text: '5.5.4 Unsupported option: SMTPUTF8' });
  // BINARYMIME is offered with CHUNKING.
  assert.equal(mailParameterError(['BODY=BINARYMIME'], true), undefined);
  assert.deepEqual(mailParameterError(['BODY=QUANTUM'], true), { code: 555, text: '5.5.4 Unsupported option: BODY=QUANTUM' });
  assert.deepEqual(mailParameterError(['SIZE=1k'], true), { code: 501, text: '5.5.4 Bad message size syntax' });
  assert.deepEqual(mailParameterError(['RET=FULL', 'RET=HDRS'], true), { code: 501, text: '5.5.4 Bad RET parameter syntax' });
  assert.deepEqual(mailParameterError(['ENVID=a+0Db'], true), { code: 501, text: '5.5.4 Bad ENVID parameter syntax' });
  assert.deepEqual(mailParameterError(['Foo=Bar'], true), { code: 555, text: '5.5.4 Unsupported option: Foo=Bar' });
});

test('RCPT TO parameters: NOTIFY and ORCPT once each, in Postfix\'s syntax', () => {
  assert.equal(rcptParameterError(['NOTIFY=success,DELAY', 'ORCPT=rfc822;a+40b']), undefined);
  assert.equal(rcptParameterError(['NOTIFY=NEVER']), undefined);
  for (const bad of [['NOTIFY=NEVER,SUCCESS'], ['NOTIFY='], ['NOTIFY=SUCCESS', 'NOTIFY=DELAY'], ['NOTIFY=FOO']]) {
    assert.deepEqual(rcptParameterError(bad), { code: 501, text: '5.5.4 Error: Bad NOTIFY parameter syntax' }, bad.join(' '));
  }
  for (const bad of [['ORCPT=bad'], ['ORCPT=;x'], ['ORCPT=rfc822;a+ZZ']]) {
    assert.deepEqual(rcptParameterError(bad), { code: 501, text: '5.5.4 Error: Bad ORCPT parameter syntax' }, bad.join(' '));
  }
  assert.deepEqual(rcptParameterError(['NOTIFY']), { code: 555, text: '5.5.4 Unsupported option: NOTIFY' });
});

test('the address and parameter words of MAIL FROM and RCPT TO; no address at all is a syntax error', () => {
  assert.deepEqual(addressArgument('MAIL FROM: <a@b> SIZE=1', 'MAIL FROM:'), { address: '<a@b>', params: ['SIZE=1'] });
  assert.deepEqual(addressArgument('rcpt to:a b', 'RCPT TO:'), { address: 'a', params: ['b'] });
  assert.deepEqual(addressArgument('MAIL FROM :<>', 'MAIL FROM:'), { address: '<>', params: [] });
  assert.equal(addressArgument('MAIL', 'MAIL FROM:'), undefined);
  assert.equal(addressArgument('RCPT TO:', 'RCPT TO:'), undefined);
});

test('VRFY arguments: one address, bare or after a phrase in <>; SMTPUTF8 at the end; the reply echoes what was written', () => {
  assert.deepEqual(vrfyArgument('Root <root@localhost>', true), { address: 'root@localhost', shown: 'Root <root@localhost>', smtputf8: false });
  assert.deepEqual(vrfyArgument('nobody SMTPUTF8', true), { address: 'nobody', shown: 'nobody', smtputf8: true });
  assert.deepEqual(vrfyArgument('"x y"@localhost', true), { address: 'x y@localhost', shown: '"x y"@localhost', smtputf8: false });
  assert.deepEqual(vrfyArgument('x(comment)', true), { address: 'x', shown: 'x(comment)', smtputf8: false });
  assert.deepEqual(vrfyArgument('', true), { reply: { code: 501, text: '5.5.4 Syntax: VRFY address [SMTPUTF8]' } });
  assert.deepEqual(vrfyArgument('', false), { reply: { code: 501, text: '5.5.4 Syntax: VRFY address' } });
  for (const bad of ['a b c', '<>', 'nobody FOO', '<a> x']) {
    const r = vrfyArgument(bad, true);
    assert.ok('reply' in r && r.reply.code === 501 && r.reply.text === '5.1.3 Bad recipient address syntax', bad);
  }
});

test('ETRN arguments: one host name or address literal, a leading @ or # dropped', () => {
  assert.deepEqual(etrnArgument('@example.com'), { site: 'example.com' });
  assert.deepEqual(etrnArgument('#under_score.test'), { site: 'under_score.test' });
  assert.deepEqual(etrnArgument('[IPv6:::1]'), { site: '[IPv6:::1]' });
  assert.deepEqual(etrnArgument('[192.0.2.1]'), { site: '[192.0.2.1]' });
  for (const bad of ['', 'a b']) assert.deepEqual(etrnArgument(bad), { reply: { code: 500, text: 'Syntax: ETRN domain' } });
  for (const bad of ['a..b', '-foo', '123.45', '[300.1.1.1]']) assert.deepEqual(etrnArgument(bad), { reply: { code: 501, text: 'Error: invalid parameter syntax' } }, bad);
});
