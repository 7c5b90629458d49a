/**
 * anvil actor: the client counters every smtpd thread of the process shares
 * (Postfix's anvil(8), master.cf `anvil unix - - n - 1 anvil`). One
 * instance; it runs without a master.cf line, and Postfix's line, where
 * present, gives it its -o values. smtpd asks it only about what has a
 * non-zero limit (as Postfix's smtpd does), so a service without limits
 * never calls it.
 *
 * Each connection is counted for the smtpd thread that holds it: when that
 * thread is gone (a crash, a drained generation after a reload) its
 * connections are released, as anvil releases an smtpd process's
 * connections when its stream closes. A reload keeps this actor and its
 * counts (a client's sessions on the draining threads still count) and
 * applies the new anvil_rate_time_unit to the windows that start after it.
 * A restart loses the counts, as a restarted anvil does; the disconnects of
 * connections the old one counted name connections this one never saw and
 * change nothing. A connect smtpd stopped waiting for is still released by
 * its disconnect, so a slow answer never leaves a client counted.
 *
 * It starts on the first connect and ends after max_idle once it counts no
 * open connection and no rate window runs: Postfix's anvil, too, lives only
 * while an smtpd talks to it.
 */
import { runActor } from '../../runtime/actor.js';
import { AnvilTable } from '../../global/anvil-table.js';
import type { MainConfig } from '../../config/main-config.js';
import { withParameterDefaults } from '../../config/parameter-defaults.js';

/** anvil_rate_time_unit in ms (60 s when malformed; check reports it). */
function unitMs(config: MainConfig): number {
  try {
    return withParameterDefaults(config, ['anvil_rate_time_unit']).time('anvil_rate_time_unit') * 1000;
  } catch {
    return 60_000;
  }
}

runActor('anvil', (ctx) => {
  const table = new AnvilTable(unitMs(ctx.config));
  ctx.onReconfigure((config) => {
    table.unitMs = unitMs(config);
  });
  ctx.holdsWork(() => table.holdsState());
  ctx.onPeerDown((peer) => {
    const n = table.dropOwner(peer.uid);
    if (n > 0) ctx.log.info(`released ${n} connection${n === 1 ? '' : 's'} of a ${peer.role} thread that is gone`);
  });
  return {
    connect: (body, from) => table.connect(body.service, body.addr, from.uid ?? 0, body.id),
    disconnect: (body, from) => {
      table.disconnect(body.service, body.addr, from.uid ?? 0, body.id);
    },
    event: (body) => table.event(body.service, body.addr, body.what),
  };
});
