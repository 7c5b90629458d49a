/**
 * protocol-mismatch: calls and handlers that do not match the protocols,
 * each a compile error, on both sides of a call. The build compiles this
 * file, so a `@ts-expect-error` that no longer finds its error fails the
 * build; protocol-types.test.ts compiles it again without the directives
 * and checks that each line fails with the error it names (so a typo cannot
 * stand in for the mismatch). Never run.
 */
import { runActor } from '../../src/runtime/actor.js';
import type { Supervisor } from '../../src/supervisor/supervisor.js';

/** The calling side: an actor and the supervisor. */
export function callerSide(sup: Supervisor): void {
  runActor('bounce', (ctx) => {
    const journal = ctx.peers('journal');
    // @ts-expect-error TS2345: 'apend' is no kind of the journal's protocol
    void journal.call('apend', { anything: 1 });
    // @ts-expect-error TS2353: append's body has no field 'anything'
    void journal.call('append', { anything: 1 });
    // @ts-expect-error TS2345: bounce's catalogue row does not call qmgr, so it has no channel to it
    void ctx.peers('qmgr');
    // @ts-expect-error TS2339: replies are typed too: counts answers QueueCounts
    void journal.call('counts', {}).then((r) => r.finished);
    return { notify: async () => ({}) };
  });
  // @ts-expect-error TS2345: there is no role 'jurnal'
  void sup.callActor('jurnal', 'counts', {});
  // @ts-expect-error TS2345: qmgr's protocol has no 'append'
  void sup.callActor('qmgr', 'append', {});
}

/** The serving side: handlers that miss a kind, add one, or answer the wrong shape. */
export function serverSide(): void {
  // @ts-expect-error TS2322: trivial-rewrite's handlers lack 'resolve'
  runActor('trivial-rewrite', () => ({ rewrite: () => ({ addresses: [] }) }));
  // @ts-expect-error TS2322: 'deliverr' is no kind of the delivery protocol
  runActor('discard', () => ({ deliver: async () => ({ outcomes: [], connectSeconds: 0, transmitSeconds: 0 }), deliverr: () => undefined }));
  // @ts-expect-error TS2322: flush must answer { scheduled: number }
  runActor('qmgr', () => ({ arrived: () => undefined, flush: () => ({ scheduled: 'all' }), admin: async () => ({ affected: 0 }), load: () => ({ active: 0, destinations: {} }) }));
}
