// Ping-pong, after Pistachio's pingpong benchmark: a client calls a server in another address
// space (or in its own) `rounds` times with `words` untyped words; the server answers each call
// with ReplyWait. Both use the raw system call and leave MR0 as it is between rounds, so a
// round trip is two IPCs and two context switches and nothing else. It prints a line before the
// first and after the last round, which benchmarks use as markers.

import { ANYTHREAD, Syscall, mrOffset, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { fpage } from '../../libl4/fpage.ts';
import { globalId } from '../../libl4/thread-id.ts';
import { spaceControl, threadControl } from '../../libl4/syscalls.ts';

export interface PingPongOptions {
  readonly rounds: number;
  /** Untyped words per message (0 to 63). */
  readonly words?: number;
  /** Run the server in the client's own space. */
  readonly sameSpace?: boolean;
}

export const PINGPONG_START = 'pingpong: start\n';
export const PINGPONG_END = 'pingpong: end\n';

export function pingPong(options: PingPongOptions): (env: ProgramEnv) => Op<void> {
  const rounds = options.rounds;
  const words = options.words ?? 0;
  const serverId = globalId(300, 1);

  function* server(env: ProgramEnv): Op<void> {
    // The first receive, then answer and wait in one call, forever.
    let [from] = yield* env.syscall(Syscall.Ipc, [0, ANYTHREAD, 0]);
    for (;;) [from] = yield* env.syscall(Syscall.Ipc, [from!, ANYTHREAD, 0x04000000]);
  }

  return function* client(env: ProgramEnv): Op<void> {
    const self = (yield* env.readWords(env.utcb, 1))[0]!;
    if (options.sameSpace) {
      yield* threadControl(env, serverId, self, self, self, 0xbf000200);
    } else {
      yield* threadControl(env, serverId, serverId, self, 0, 0xbf000000);
      yield* spaceControl(env, serverId, 0, fpage(0xbff00000, 12), fpage(0xbf000000, 12), 0);
      yield* threadControl(env, serverId, serverId, self, self, 0xbf000000);
    }
    // Start message: MR0 = 2 words, MR1 = IP, MR2 = SP.
    yield* env.writeWords(env.utcb + mrOffset(0), [2, env.codeAddress(server), 0]);
    yield* env.syscall(Syscall.Ipc, [serverId, 0, 0]);
    yield* env.write32(env.utcb + mrOffset(0), words);
    const to = options.sameSpace ? 0xbf000200 : serverId;
    yield* env.print(PINGPONG_START);
    for (let i = 0; i < rounds; i++) yield* env.syscall(Syscall.Ipc, [to, to, 0]);
    yield* env.print(PINGPONG_END);
  };
}
