/**
 * soak-faults: the faults a soak injects, in rotation over every role and
 * every kind the daemon's fault hook has (`postrider fault ROLE INSTANCE
 * throw|exit|oom|hang`, allowed by debug_fault_injection = yes), plus a
 * SIGKILL of the whole daemon and a restart on the same queue (the
 * durability case). The rotation walks roles and kinds on a diagonal, so
 * that every role meets every kind within roles x kinds faults, and rotates
 * the instance of a role that has several. Pure planning; the soak runs
 * them.
 */

export const ACTOR_FAULT_KINDS = ['throw', 'exit', 'oom', 'hang'] as const;
export type ActorFaultKind = (typeof ACTOR_FAULT_KINDS)[number];

/** One planned fault. */
export type Fault = { kind: 'actor'; role: string; instance: number; fault: ActorFaultKind } | { kind: 'sigkill' };

export function describeFault(f: Fault): string {
  return f.kind === 'sigkill' ? 'SIGKILL the daemon' : `${f.fault} in ${f.role}[${f.instance}]`;
}

/**
 * The i-th fault of the rotation. `roles` maps each role to its instance
 * count (from `status --json`); every `sigkillEvery`-th fault (0: never)
 * kills the daemon instead.
 */
export function faultAt(i: number, roles: ReadonlyMap<string, number>, sigkillEvery: number): Fault {
  if (sigkillEvery > 0 && (i + 1) % sigkillEvery === 0) return { kind: 'sigkill' };
  // count only actor faults, so the rotation does not skip a pair where a SIGKILL went
  const k = sigkillEvery > 0 ? i - Math.floor((i + 1) / sigkillEvery) : i;
  const names = [...roles.keys()].sort();
  const role = names[k % names.length];
  const round = Math.floor(k / names.length);
  const fault = ACTOR_FAULT_KINDS[(k + round) % ACTOR_FAULT_KINDS.length];
  const instances = roles.get(role) ?? 1;
  return { kind: 'actor', role, instance: 1 + (round % instances), fault };
}

/** Reads `FAULT[,FAULT...]` where FAULT is `sigkill` or `ROLE:INSTANCE:KIND` (for a fixed plan). */
export function parseFaultPlan(text: string): Fault[] {
  return text.split(',').map((t) => {
    const s = t.trim();
    if (s === 'sigkill') return { kind: 'sigkill' } as const;
    const [role, instance, fault] = s.split(':');
    if (!role || !/^\d+$/.test(instance ?? '') || !ACTOR_FAULT_KINDS.includes(fault as ActorFaultKind)) {
      throw new Error(`fault "${s}": expected sigkill or ROLE:INSTANCE:${ACTOR_FAULT_KINDS.join('|')}`);
    }
    return { kind: 'actor', role, instance: Number(instance), fault: fault as ActorFaultKind } as const;
  });
}
