/**
 * sink-rules: the bench sink's scripted replies. A rule says "at this stage,
 * for every Nth command, answer this reply instead of the normal one"
 * (`SinkRule`); `parseSinkRule` reads the command-line form
 * `STAGE[@EVERY]:REPLY` (e.g. `rcpt@10:450 4.2.0 Mailbox busy`) and throws a
 * `SinkRuleError` (code ERR_SINK_RULE) whose one-line message names the
 * problem; `SinkRuleSet` counts commands per rule and says which rule, if
 * any, answers the current one.
 */
import type { SinkRule } from './harness-types.js';

/** The stages a rule may name. */
const SINK_RULE_STAGES: ReadonlyArray<SinkRule['stage']> = ['connect', 'helo', 'mail', 'rcpt', 'data', 'dot'];

/** A rule text or object that cannot be used; `message` is one line. */
export class SinkRuleError extends Error {
  readonly code = 'ERR_SINK_RULE';
  constructor(message: string) {
    super(message);
    this.name = 'SinkRuleError';
  }
}

/** Checks a rule object (from code or from `parseSinkRule`) and returns it with `every` filled in. */
function checkSinkRule(rule: SinkRule, label = 'sink rule'): Required<SinkRule> {
  if (!SINK_RULE_STAGES.includes(rule.stage)) {
    throw new SinkRuleError(`${label}: unknown stage "${String(rule.stage)}" (expected one of ${SINK_RULE_STAGES.join(', ')})`);
  }
  const every = rule.every ?? 1;
  if (!Number.isSafeInteger(every) || every < 1) {
    throw new SinkRuleError(`${label}: "every" must be a whole number of at least 1, not ${String(rule.every)}`);
  }
  const reply = rule.reply;
  if (typeof reply !== 'string' || !isReplyLine(reply)) {
    throw new SinkRuleError(`${label}: reply "${String(reply)}" is not an SMTP reply line (a code 200-599, then a space and text)`);
  }
  return { stage: rule.stage, reply, every };
}

/** True for "NNN" or "NNN text" with NNN in 200..599 and no line breaks. */
function isReplyLine(reply: string): boolean {
  if (reply.length < 3 || reply.length > 512) return false;
  const c0 = reply.charCodeAt(0);
  if (c0 < 0x32 || c0 > 0x35) return false;
  for (let i = 1; i < 3; i++) {
    const c = reply.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  if (reply.length > 3 && reply[3] !== ' ') return false;
  return !reply.includes('\r') && !reply.includes('\n');
}

/**
 * Reads `STAGE[@EVERY]:REPLY`, e.g. `rcpt@10:450 4.2.0 Mailbox busy` or
 * `dot:554 5.7.1 Rejected`. Stage names are case-insensitive.
 */
export function parseSinkRule(text: string): SinkRule {
  const label = `sink rule "${text}"`;
  const colon = text.indexOf(':');
  if (colon < 0) throw new SinkRuleError(`${label}: expected STAGE[@EVERY]:REPLY`);
  const head = text.slice(0, colon).trim();
  const reply = text.slice(colon + 1).trim();
  const at = head.indexOf('@');
  const stage = (at < 0 ? head : head.slice(0, at)).toLowerCase();
  let every = 1;
  if (at >= 0) {
    const n = head.slice(at + 1);
    if (!/^[0-9]+$/.test(n)) throw new SinkRuleError(`${label}: EVERY must be a whole number, not "${n}"`);
    every = Number(n);
  }
  if (!reply) throw new SinkRuleError(`${label}: the reply is missing`);
  return checkSinkRule({ stage: stage as SinkRule['stage'], reply, every }, label);
}

/** A rule that answered, with what the sink needs to act on it. */
export interface RuleMatch {
  /** The reply line, without CRLF. */
  reply: string;
  /** The key counted in SinkStats.scripted: `stage code`. */
  key: string;
  /** A 421 ends the connection after the reply. */
  closes: boolean;
}

/**
 * The rules of one sink with their counters (shared by all connections, so
 * "every 10th RCPT" means every 10th the sink saw). When several rules name
 * one stage, each counts every command of it and the first that falls due answers.
 */
export class SinkRuleSet {
  private readonly byStage = new Map<string, Array<{ every: number; seen: number; match: RuleMatch }>>();

  constructor(rules: readonly SinkRule[] = []) {
    for (const r of rules) {
      const rule = checkSinkRule(r);
      const code = rule.reply.slice(0, 3);
      const list = this.byStage.get(rule.stage) ?? [];
      list.push({ every: rule.every, seen: 0, match: { reply: rule.reply, key: `${rule.stage} ${code}`, closes: code === '421' } });
      this.byStage.set(rule.stage, list);
    }
  }

  /** True when some rule names this stage (so the sink can skip counting otherwise). */
  has(stage: SinkRule['stage']): boolean {
    return this.byStage.has(stage);
  }

  /** Counts one command at `stage`; returns the rule that answers it, if one falls due. */
  next(stage: SinkRule['stage']): RuleMatch | undefined {
    const list = this.byStage.get(stage);
    if (!list) return undefined;
    let hit: RuleMatch | undefined;
    for (const r of list) {
      r.seen++;
      if (!hit && r.seen % r.every === 0) hit = r.match;
    }
    return hit;
  }

  /** Zeroes the counters, so a new run sees the same script. */
  reset(): void {
    for (const list of this.byStage.values()) for (const r of list) r.seen = 0;
  }
}
