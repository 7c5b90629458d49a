/** Tests of per-transport parameter fallback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MainConfig } from '../../src/config/main-config.js';
import { transportParameterName } from '../../src/config/transport-params.js';
import { defaultValues } from '../../src/config/parameters.js';

test('a transport-specific setting wins, else the global default is read', () => {
  const cfg = new MainConfig({ ...defaultValues('h.example'), 'my-pipe_destination_recipient_limit': '1', smtp_destination_concurrency_limit: '7' }, '/');
  assert.equal(transportParameterName(cfg, 'my-pipe', 'destination_recipient_limit'), 'my-pipe_destination_recipient_limit');
  assert.equal(cfg.int(transportParameterName(cfg, 'my-pipe', 'destination_recipient_limit')), 1);
  assert.equal(cfg.int(transportParameterName(cfg, 'smtp', 'destination_concurrency_limit')), 7);
  assert.equal(transportParameterName(cfg, 'virtual', 'destination_concurrency_limit'), 'default_destination_concurrency_limit');
  assert.equal(cfg.int(transportParameterName(cfg, 'virtual', 'initial_destination_concurrency')), 5);
  assert.equal(cfg.time(transportParameterName(cfg, 'relay', 'destination_rate_delay')), 0);
});
