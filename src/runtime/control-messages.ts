/**
 * control-messages: what the supervisor and a worker say to each other on
 * the worker's parent port (structured clone, not msgpack: these carry
 * MessagePorts). Also the workerData every actor thread starts with.
 */
import type { MessagePort } from 'node:worker_threads';
import type { MasterService } from '../config/config-types.js';

/** The identity and configuration of one actor incarnation. */
export interface ActorAssignment {
  role: string;
  instance: number;
  /** Unique per incarnation in this supervisor. */
  uid: number;
  /** The queue-id salt this incarnation alone holds among the live ones (supervisor-salts). */
  idSalt: number;
  params: Record<string, string>;
  dir: string;
  service?: MasterService;
  /**
   * The transports of this configuration, each with its agent instances
   * (their numbers, running or waiting on demand: the lanes qmgr spreads one
   * destination's deliveries over). A transport is a master.cf unix service
   * that runs a delivery agent, named as in Postfix; a name missing here has
   * no service to deliver it.
   */
  transports: Record<string, number[]>;
  /**
   * The -o values of the master.cf service of each inline role (the line
   * named "cleanup" running cleanup, Postfix's default cleanup_service_name),
   * applied where that role runs inside this actor.
   */
  inline: Record<string, Record<string, string>>;
  faultInjection: boolean;
  /** For an inet listener: the most sessions it may hold so the process keeps descriptors in reserve (fd-budget.ts); absent: no cap. */
  sessionCapFromFdLimit?: number;
  /** For an inet listener: the threads of its service, and whether they share its address with the listen option reusePort. */
  listener?: { threads: number; reusePort: boolean };
  /** For a sharded role (journal, qmgr): the queue shard this instance serves. */
  shard?: ShardAssignment;
  /** For an on-demand role: after this long without a request in hand, the actor says it is idle and the supervisor ends it (max_idle). */
  maxIdleMs?: number;
}

/** The queue shard of a journal or qmgr instance. */
export interface ShardAssignment {
  /** 0 .. count - 1; instance index + 1 of the role serves it. */
  index: number;
  /** Queue shards the daemon serves. */
  count: number;
  /** The host-wide delivery counters (shared-limits), shared by every qmgr; absent with one shard. */
  limits?: SharedArrayBuffer;
}

/** Connections a listener accepts past its sessionCapFromFdLimit, so a 421 can be said at the cap; the supervisor's descriptor reserve pays for them. */
export const SESSION_CAP_SLACK = 8;

/** workerData: an assignment, or a warm spare waiting for one. */
export type ActorWorkerData = { spare: false; assignment: ActorAssignment } | { spare: true; role: string };

export type ToWorker =
  | { ctl: 'activate'; assignment: ActorAssignment }
  /**
   * A channel to one incarnation of a peer. service: the master.cf unix
   * service it runs (for a delivery agent, the transport it delivers);
   * also: further services the same instance serves (services that differ
   * in nothing but their name share their instances);
   * inboundOnly: answer requests that arrive on the port, but never route
   * calls to it (the peer is draining).
   */
  | { ctl: 'wire'; role: string; instance: number; uid: number; port: MessagePort; service?: string; also?: string[]; inboundOnly?: boolean }
  | { ctl: 'peerRetire'; role: string; uid: number }
  | { ctl: 'peerDown'; role: string; uid: number; reason: string }
  | { ctl: 'ping'; seq: number }
  /** Finish the work in hand; a listener's sessions have deadlineMs before idle ones are closed. */
  | { ctl: 'drain'; deadlineMs: number }
  | { ctl: 'shutdown' }
  /** A reload keeps this incarnation (RoleSpec.keepOnReload): take the new configuration in place. */
  | { ctl: 'reconfigure'; assignment: ActorAssignment }
  | { ctl: 'fault'; kind: FaultKind };

export type FromWorker =
  | { ctl: 'pong'; seq: number }
  | { ctl: 'loaded' }
  | { ctl: 'ready' }
  | { ctl: 'setupError'; message: string }
  | { ctl: 'draining' }
  | { ctl: 'drained'; error?: string }
  | { ctl: 'shutdownDone'; error?: string }
  | { ctl: 'reconfigured'; error?: string }
  /** A call found no live instance of a role or of a service (a transport): start it if it waits on demand. */
  | { ctl: 'demand'; role?: string; service?: string }
  /** An on-demand actor has had no work for maxIdleMs. */
  | { ctl: 'idle' };

/** Faults the supervisor can inject when debug_fault_injection = yes. */
export type FaultKind = 'throw' | 'exit' | 'oom' | 'hang';
export const FAULT_KINDS: readonly FaultKind[] = ['throw', 'exit', 'oom', 'hang'];

/** The role name actors see for the supervisor's own channel. */
export const SUPERVISOR_ROLE = 'master';
