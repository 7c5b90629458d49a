/** bench-echo-actor: answers `echo` with its body, for the round-trip benchmark. */
import { runActor } from '../../src/runtime/actor.js';

export interface BenchEchoProtocol {
  echo: { req: { data: Uint8Array }; rep: { data: Uint8Array } };
}

declare module '../../src/protocol/protocol.js' {
  interface Protocols {
    'bench-echo': BenchEchoProtocol;
  }
}

runActor('bench-echo', () => ({ echo: (body) => body }));
