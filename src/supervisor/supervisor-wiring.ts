/**
 * supervisor-wiring: the MessageChannels between actors. A new incarnation
 * gets a channel to every live incarnation of a related role (one that
 * calls it or that it calls) and one to the supervisor, whose end joins the
 * supervisor's PeerSet for that role (callActor, broadcast). Peers hear
 * when an incarnation is retired (no new calls to it) and when it is gone.
 *
 * Errors: nothing here throws; a control message that cannot be posted is
 * logged by postTo, and calls over a channel that closes fail in the
 * caller's PeerSet with ActorCallError.
 */
import { MessageChannel } from 'node:worker_threads';
import type { Logger } from '../util/log.js';
import { SUPERVISOR_ROLE, type ToWorker } from '../runtime/control-messages.js';
import { PeerLink, PeerSet } from '../runtime/peer.js';
import { related, talksTo, wiredAlso, wiredService } from './role-registry.js';
import type { Incarnation } from './supervisor-types.js';
import { postTo } from './supervisor-worker.js';

/** The channels between live incarnations, and the supervisor's own end of each actor's. */
export class Wiring {
  private readonly groups = new Map<string, PeerSet>();

  /** @param incarnations every worker the supervisor has, live or not yet exited */
  constructor(
    private readonly incarnations: ReadonlyMap<number, Incarnation>,
    private readonly log: Logger,
  ) {}

  /** The supervisor's links to every instance of the role. */
  group(role: string): PeerSet {
    let g = this.groups.get(role);
    if (!g) {
      g = new PeerSet(role, (t) => this.log.warning(t));
      this.groups.set(role, g);
    }
    return g;
  }

  /** A channel between the new incarnation and every live related incarnation, and one to the supervisor. */
  wire(inc: Incarnation): void {
    const slot = inc.slot!;
    for (const other of this.incarnations.values()) {
      const os = other.slot;
      if (!os || other === inc || os.removed || other.state === 'exited' || other.state === 'spare') continue;
      if (!related(slot.spec, os.spec)) continue;
      if (os === slot) continue;
      // A draining actor finishes its sessions through the new peers (an old
      // smtpd's last message goes to the new journal); nothing routes to it.
      const draining = other.state === 'draining' || other.state === 'stopping';
      if (draining && !talksTo(os.spec, slot.role)) continue;
      const { port1, port2 } = new MessageChannel();
      // Each side learns the other's service, so a caller can route by transport.
      const wire: ToWorker = { ctl: 'wire', role: os.role, instance: os.instance, uid: other.uid, port: port1, service: wiredService(os.service), also: wiredAlso(os.also) };
      if (draining) wire.inboundOnly = true;
      postTo(inc, wire, this.log, [port1]);
      postTo(other, { ctl: 'wire', role: slot.role, instance: slot.instance, uid: inc.uid, port: port2, service: wiredService(slot.service), also: wiredAlso(slot.also) }, this.log, [port2]);
    }
    const { port1, port2 } = new MessageChannel();
    postTo(inc, { ctl: 'wire', role: SUPERVISOR_ROLE, instance: 0, uid: 0, port: port1 }, this.log, [port1]);
    const link = new PeerLink(
      port2,
      { role: slot.role, instance: slot.instance, uid: inc.uid },
      (kind) => {
        throw new Error(`the supervisor has no handler for ${kind}`);
      },
      (t) => this.log.warning(t),
    );
    this.group(slot.role).add(link);
  }

  /** Tells every peer and the supervisor's own group that this incarnation is gone. */
  unwire(inc: Incarnation, reason: string): void {
    const slot = inc.slot!;
    this.group(slot.role).down(inc.uid, reason || 'exited');
    for (const other of this.incarnations.values()) {
      if (other.state === 'exited' || other.state === 'spare' || !other.slot) continue;
      if (!related(slot.spec, other.slot.spec)) continue;
      postTo(other, { ctl: 'peerDown', role: slot.role, uid: inc.uid, reason: reason || 'exited' }, this.log);
    }
  }

  /** Tells the supervisor's group and every related peer to send no new calls to this incarnation. */
  announceRetire(inc: Incarnation): void {
    const slot = inc.slot!;
    this.group(slot.role).retire(inc.uid);
    for (const other of this.incarnations.values()) {
      if (other === inc || !other.slot || other.state === 'exited' || other.state === 'spare') continue;
      if (related(slot.spec, other.slot.spec)) postTo(other, { ctl: 'peerRetire', role: slot.role, uid: inc.uid }, this.log);
    }
  }

  /** Closes every link the supervisor holds (the tree is stopping). */
  closeAll(reason: string): void {
    for (const g of this.groups.values()) g.closeAll(reason);
  }
}
