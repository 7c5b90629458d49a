/**
 * status-format: the human `postrider status` report. The first line is
 * Postfix's ("the Postrider mail system is running: PID: N"); a table of the
 * threads follows, one line per actor and one for the main thread, with each
 * one's state, load (event-loop utilisation since the previous status
 * request) and CPU seconds since it started, then the process total, whose
 * excess over the listed threads is the runtime's own (GC, I/O pool).
 * formatStatus() is pure and never throws: a field the daemon did not send
 * (an older daemon, a thread restarting) shows as "-".
 */
import type { SupervisorStatus } from '../supervisor/supervisor-types.js';

const num = (n: number | undefined, digits: number): string => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '-');

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  // text columns (role, service, state) left-aligned, figures right-aligned
  const left = new Set([0, 1, 3]);
  return rows.map((r) => r.map((c, i) => (left.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd());
}

/** The report's lines, each ending in a newline. */
export function formatStatus(st: SupervisorStatus): string {
  const head = `postrider: the Postrider mail system is running: PID: ${st.pid}\n`;
  const actors = Array.isArray(st.actors) ? st.actors : [];
  if (actors.length === 0 && !st.mainThread) return head;
  const rows: string[][] = [['role', 'service', 'thread', 'state', 'restarts', 'uptime s', 'load', 'cpu s']];
  for (const a of actors) {
    rows.push([a.role, a.service ?? '-', String(a.threadId), a.state, String(a.restarts), String(a.uptimeSeconds), num(a.load, 2), num(a.cpuSeconds, 2)]);
  }
  if (st.mainThread) rows.push(['main thread', '-', '0', 'running', '-', String(st.uptimeSeconds), num(st.mainThread.load, 2), num(st.mainThread.cpuSeconds, 2)]);
  if (st.process) {
    const threads = st.process.threads === undefined ? '' : ` (${st.process.threads} threads)`;
    rows.push([`process${threads}`, '', '', '', '', '', '', num(st.process.cpuSeconds, 2)]);
  }
  return head + table(rows).join('\n') + '\n';
}
