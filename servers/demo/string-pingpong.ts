// String ping-pong: a client calls a server in another address space `rounds` times, each call
// carrying one string item of `bytes` bytes into the server's buffer string; the server answers
// each with an empty reply (ReplyWait). Both buffers are mapped before the first round (the
// client maps the server's buffer page by page with map items), so the rounds take no faults.
// It prints a line before the first and after the last round, which benchmarks use as markers.
// The client runs as a root task paged by sigma0.

import { ANYTHREAD, Syscall, brOffset, mrOffset, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { fpage, Rights } from '../../libl4/fpage.ts';
import { mapItem } from '../../libl4/map-item.ts';
import { msgTag } from '../../libl4/msg-tag.ts';
import { stringItem, bufferStrings } from '../../libl4/string-item.ts';
import { globalId } from '../../libl4/thread-id.ts';
import { spaceControl, threadControl } from '../../libl4/syscalls.ts';

export interface StringPingPongOptions {
  readonly rounds: number;
  /** Bytes per string (at most 64 KiB). */
  readonly bytes: number;
}

export const STRING_PINGPONG_START = 'string-pingpong: start\n';
export const STRING_PINGPONG_END = 'string-pingpong: end\n';

/** The client's buffer, and the pages it maps to the server (conventional memory, from sigma0). */
const CLIENT_BUFFER = 0x01000000;
const SERVER_PAGES = 0x01100000;
/** The server's buffer in its own space. */
const SERVER_BUFFER = 0x10000000;

export function stringPingPong(options: StringPingPongOptions): (env: ProgramEnv) => Op<void> {
  const { rounds, bytes } = options;
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 0x10000) throw new RangeError(`string ping-pong takes 1 to 65536 bytes, not ${bytes}`);
  const pages = Math.ceil(bytes / 4096);
  const serverId = globalId(310, 1);

  function* server(env: ProgramEnv): Op<void> {
    // The buffer's pages arrive as map items, one message each.
    for (let i = 0; i < pages; i++) {
      yield* env.write32(env.utcb + brOffset(0), acceptor(fpage(SERVER_BUFFER + i * 4096, 12)));
      yield* env.syscall(Syscall.Ipc, [0, ANYTHREAD, 0]);
    }
    yield* env.writeWords(env.utcb + brOffset(0), [acceptor(0, true), ...bufferStrings([[{ length: bytes, addresses: [SERVER_BUFFER] }]])]);
    let [from] = yield* env.syscall(Syscall.Ipc, [0, ANYTHREAD, 0]);
    for (;;) {
      yield* env.write32(env.utcb + mrOffset(0), 0);
      [from] = yield* env.syscall(Syscall.Ipc, [from!, ANYTHREAD, 0x04000000]);
    }
  }

  return function* client(env: ProgramEnv): Op<void> {
    const self = (yield* env.readWords(env.utcb, 1))[0]!;
    // Touch every page first: the client's buffer and the pages for the server (sigma0 maps them).
    for (let offset = 0; offset < pages * 4096; offset += 4096) {
      yield* env.write32(CLIENT_BUFFER + offset, (0xc0de0000 + offset) >>> 0);
      yield* env.write32(SERVER_PAGES + offset, 0);
    }
    yield* threadControl(env, serverId, serverId, self, 0, 0xbf000000);
    yield* spaceControl(env, serverId, 0, fpage(0xbff00000, 12), fpage(0xbf000000, 12), 0);
    yield* threadControl(env, serverId, serverId, self, self, 0xbf000000);
    yield* env.writeWords(env.utcb + mrOffset(0), [2, env.codeAddress(server), 0]);
    yield* env.syscall(Syscall.Ipc, [serverId, 0, 0]);
    for (let i = 0; i < pages; i++) {
      yield* env.writeWords(env.utcb + mrOffset(0), [msgTag(0, 0, 2), ...mapItem(0, fpage(SERVER_PAGES + i * 4096, 12, Rights.ReadWrite))]);
      yield* env.syscall(Syscall.Ipc, [serverId, 0, 0]);
    }
    const item = stringItem(bytes, CLIENT_BUFFER);
    yield* env.writeWords(env.utcb + mrOffset(1), item);
    const tag = msgTag(0, 0, 2);
    yield* env.print(STRING_PINGPONG_START);
    for (let i = 0; i < rounds; i++) {
      yield* env.write32(env.utcb + mrOffset(0), tag);
      yield* env.syscall(Syscall.Ipc, [serverId, serverId, 0]);
    }
    yield* env.print(STRING_PINGPONG_END);
  };
}
