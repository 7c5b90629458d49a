/**
 * health: whether the mail system serves, from its status, for /healthz on
 * the metrics listener and on the HTTP API: ready, and every actor running
 * or waiting on demand (its first request starts it). Never throws.
 */
export interface HealthView {
  ready?: boolean;
  actors: Array<{ role: string; instance: number; state: string }>;
}

/** ok, or the one-line reason why not. */
export function healthOf(st: HealthView): { ok: boolean; text: string } {
  if (st.ready === false) return { ok: false, text: 'not ready: the mail system is starting or stopping' };
  const down = st.actors.filter((a) => a.state !== 'running' && a.state !== 'on-demand');
  if (down.length > 0) return { ok: false, text: `not serving: ${down.map((a) => `${a.role}[${a.instance}] ${a.state}`).join(', ')}` };
  return { ok: true, text: `ok: ${st.actors.length} actors running` };
}
