import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNexthop } from '../../../src/actors/smtp/smtp-nexthop.js';
import { saidReason } from '../../../src/actors/smtp/smtp-reply.js';
import { parseServerReply } from '../../../src/util/smtp-reply.js';
import { encodeXtext } from '../../../src/actors/smtp/smtp-client.js';

test('nexthop forms: brackets suppress MX lookup, ports and services', () => {
  assert.deepEqual(parseNexthop('example.com'), { host: 'example.com', port: 25, mxLookup: true });
  assert.deepEqual(parseNexthop('example.com:2525'), { host: 'example.com', port: 2525, mxLookup: true });
  assert.deepEqual(parseNexthop('[mail.example.com]'), { host: 'mail.example.com', port: 25, mxLookup: false });
  assert.deepEqual(parseNexthop('[127.0.0.1]:2525'), { host: '127.0.0.1', port: 2525, mxLookup: false });
  assert.deepEqual(parseNexthop('[ipv6:::1]:26'), { host: '::1', port: 26, mxLookup: false });
  assert.deepEqual(parseNexthop('[relay.example]:submission'), { host: 'relay.example', port: 587, mxLookup: false });
  assert.deepEqual(parseNexthop('smtp:[10.0.0.1]'), { host: '10.0.0.1', port: 25, mxLookup: false });
  assert.equal(parseNexthop(''), undefined);
  assert.equal(parseNexthop('[host'), undefined);
  assert.equal(parseNexthop('bad host:25'), undefined);
  assert.equal(parseNexthop('[h]:99999'), undefined);
});

test('replies: enhanced code taken when its class matches, else derived; multi-line joined', () => {
  assert.deepEqual(parseServerReply('550 5.1.1 <u@x>: no'), { code: 550, dsn: '5.1.1', text: '550 5.1.1 <u@x>: no' });
  assert.deepEqual(parseServerReply('451 try later'), { code: 451, dsn: '4.0.0', text: '451 try later' });
  assert.equal(parseServerReply('550 4.1.1 odd').dsn, '5.0.0');
  assert.equal(parseServerReply('550-5.7.1 first\n550 5.7.1 second').text, '550-5.7.1 first 550 5.7.1 second');
  assert.equal(parseServerReply('garbage').dsn, '4.0.0');
  assert.equal(saidReason('mx[1.2.3.4]', parseServerReply('552 5.3.4 too big'), 'end of DATA'), 'host mx[1.2.3.4] said: 552 5.3.4 too big (in reply to end of DATA command)');
});

test('xtext encodes +, = and non-printables', () => {
  assert.equal(encodeXtext('a+b=c d'), 'a+2Bb+3Dc+20d');
  assert.equal(encodeXtext('jö'), 'j+C3+B6');
});
