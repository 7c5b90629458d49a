/**
 * soak-faults: the faults a soak injects, in rotation over every role and
 * every kind the daemon's fault hook has (`postrider fault ROLE INSTANCE
 * throw|exit|oom|hang`, allowed by debug_fault_injection = yes), plus a
 * SIGKILL of the whole daemon and a restart on the same queue (the
 * durability case), and a full disk (the queue's file system filled for a
 * while, when the soak could give the queue a file system of its own). The
 * rotation walks roles and kinds on a diagonal, so that every role meets
 * every kind within roles x kinds actor faults, and rotates the instance of
 * a role that has several. Pure planning; the soak runs them.
 */

export const ACTOR_FAULT_KINDS = ['throw', 'exit', 'oom', 'hang'] as const;
export type ActorFaultKind = (typeof ACTOR_FAULT_KINDS)[number];

/** One planned fault. */
export type Fault = { kind: 'actor'; role: string; instance: number; fault: ActorFaultKind } | { kind: 'sigkill' } | { kind: 'disk-full' };

export function describeFault(f: Fault): string {
  if (f.kind === 'sigkill') return 'SIGKILL the daemon';
  if (f.kind === 'disk-full') return 'fill the queue file system';
  return `${f.fault} in ${f.role}[${f.instance}]`;
}

/** How often the whole-daemon faults come: every Nth fault of the rotation (0: never). */
export interface SpecialFaults {
  sigkillEvery: number;
  /** Placed half-way between two SIGKILLs' positions (at N/2, N/2 + N, ...). */
  diskFullEvery: number;
}

function special(i: number, s: SpecialFaults): Fault | undefined {
  if (s.sigkillEvery > 0 && (i + 1) % s.sigkillEvery === 0) return { kind: 'sigkill' };
  if (s.diskFullEvery > 0 && (i + 1) % s.diskFullEvery === Math.floor(s.diskFullEvery / 2)) return { kind: 'disk-full' };
  return undefined;
}

/**
 * The i-th fault of the rotation. `roles` maps each role to its instance
 * count (from `status --json`); some positions kill the daemon or fill its
 * disk instead (`specials`).
 */
export function faultAt(i: number, roles: ReadonlyMap<string, number>, specials: SpecialFaults): Fault {
  const whole = special(i, specials);
  if (whole) return whole;
  // count only actor faults, so the rotation does not skip a pair where a whole-daemon fault went
  let k = 0;
  for (let j = 0; j < i; j++) if (!special(j, specials)) k++;
  const names = [...roles.keys()].sort();
  const role = names[k % names.length];
  const round = Math.floor(k / names.length);
  // the kind moves on by one each round, so each role meets every kind within as many rounds as there are kinds
  const fault = ACTOR_FAULT_KINDS[((k % names.length) + round) % ACTOR_FAULT_KINDS.length];
  const instances = roles.get(role) ?? 1;
  return { kind: 'actor', role, instance: 1 + (round % instances), fault };
}

/** Reads `FAULT[,FAULT...]` where FAULT is `sigkill`, `disk-full` or `ROLE:INSTANCE:KIND` (for a fixed plan). */
export function parseFaultPlan(text: string): Fault[] {
  return text.split(',').map((t) => {
    const s = t.trim();
    if (s === 'sigkill') return { kind: 'sigkill' } as const;
    if (s === 'disk-full') return { kind: 'disk-full' } as const;
    const [role, instance, fault] = s.split(':');
    if (!role || !/^\d+$/.test(instance ?? '') || !ACTOR_FAULT_KINDS.includes(fault as ActorFaultKind)) {
      throw new Error(`fault "${s}": expected sigkill, disk-full or ROLE:INSTANCE:${ACTOR_FAULT_KINDS.join('|')}`);
    }
    return { kind: 'actor', role, instance: Number(instance), fault: fault as ActorFaultKind } as const;
  });
}
