/** inet-listen: master.cf inet service names as listen addresses, inet_interfaces for a bare port. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatInetListen, InetListenError, parseInetListen } from '../../src/config/inet-listen.js';

test('host:port, [v6]:port, a service name and "*" are read', () => {
  assert.deepEqual(parseInetListen('127.0.0.1:2525'), { host: '127.0.0.1', port: 2525 });
  assert.deepEqual(parseInetListen('[::1]:25'), { host: '::1', port: 25 });
  assert.deepEqual(parseInetListen('mail.example.com:submission'), { host: 'mail.example.com', port: 587 });
  assert.deepEqual(parseInetListen('*:smtps'), { host: undefined, port: 465 });
});

test('a bare port listens on inet_interfaces: loopback-only, one address, or every address', () => {
  assert.deepEqual(parseInetListen('2525', ['loopback-only']), { host: '127.0.0.1', port: 2525 });
  assert.deepEqual(parseInetListen('2525', ['[::1]', '127.0.0.1']), { host: '::1', port: 2525 });
  assert.deepEqual(parseInetListen('smtp', ['all']), { host: undefined, port: 25 });
  assert.deepEqual(parseInetListen('smtp'), { host: undefined, port: 25 });
});

test('a port out of range, an unknown service, a bad or unbracketed host are one-line errors naming the service', () => {
  for (const [name, why] of [
    ['127.0.0.1:99999', /port 99999 out of range/],
    ['127.0.0.1:', /no port/],
    ['nosuchport', /unknown port "nosuchport"/],
    ['::1:25', /IPv6 address needs brackets/],
    ['[mx]:25', /"mx" is not an IPv6 address/],
    ['a b:25', /bad host "a b"/],
  ] as const) {
    assert.throws(() => parseInetListen(name), (err: unknown) => {
      assert.ok(err instanceof InetListenError);
      assert.equal(err.code, 'ERR_INET_LISTEN');
      assert.ok(err.message.startsWith(`service ${name}: `), err.message);
      assert.match(err.message, why);
      assert.equal(err.message.includes('\n'), false);
      return true;
    });
  }
});

test('formatInetListen writes what the messages name', () => {
  assert.equal(formatInetListen({ host: '127.0.0.1', port: 25 }), '127.0.0.1:25');
  assert.equal(formatInetListen({ host: '::1', port: 25 }), '[::1]:25');
  assert.equal(formatInetListen({ port: 25 }), '*:25');
});
