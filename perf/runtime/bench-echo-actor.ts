/** bench-echo-actor: answers `echo` with its body, for the round-trip benchmark. */
import type { Protocol } from '../../src/protocol/protocol.js';
import { runActor } from '../../src/supervisor/actor.js';

export interface BenchEchoProtocol extends Protocol {
  echo: { req: { data: Uint8Array }; rep: { data: Uint8Array } };
}

runActor<BenchEchoProtocol>(() => ({ echo: (body) => body }));
