/** Tests of xtext decoding (RFC 3461): ORCPT addresses are stored as text, so they are encoded once when passed on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeOrcpt, decodeXtext } from '../../src/global/dsn-xtext.js';
import { encodeXtext } from '../../src/actors/smtp/smtp-client.js';

test('decodeXtext turns +HH into the character and keeps a "+" without two hex digits', () => {
  assert.equal(decodeXtext('a+2Bb+3Dc@example.com'), 'a+b=c@example.com');
  assert.equal(decodeXtext('plain@example.com'), 'plain@example.com');
  assert.equal(decodeXtext('odd+zz+4'), 'odd+zz+4');
});

test('decodeOrcpt decodes the address and keeps the type; encoding again gives the wire form back', () => {
  assert.equal(decodeOrcpt('rfc822;user+2Btag@example.com'), 'rfc822;user+tag@example.com');
  assert.equal(decodeOrcpt('no-type'), 'no-type');
  const wire = 'user+2Btag+3Dx@example.com';
  assert.equal(encodeXtext(decodeXtext(wire)), wire);
});
