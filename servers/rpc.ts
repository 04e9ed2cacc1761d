// Remote procedure calls between programs and servers: the client half.
//
// A request is one L4 Call: MR0's label names the operation, the untyped words carry its
// arguments. The reply's label is 0 or an error number (errno.ts); its untyped words are the
// results and its typed words any map items the server sent. A request that expects map items
// opens the caller's receive window (BR0) for the call and puts the old BR0 back after, so the
// thread's own acceptor is left as it was.

import { brOffset, type Op, type ProgramEnv } from '../libl4/abi.ts';
import { decodeIpcError } from '../libl4/error.ts';
import { loadMessage, storeMessage } from '../libl4/registers.ts';
import { call } from '../libl4/syscalls.ts';
import type { ThreadId } from '../libl4/thread-id.ts';
import { errorName, type ErrorName } from './errno.ts';

export interface RpcReply {
  /** 0, or the error number the server answered with. */
  readonly label: number;
  readonly words: number[];
  readonly items: number[];
  /** The IPC error code when the call itself failed (label is then -1), else 0. */
  readonly ipcError: number;
}

/** Calls `server` with `label` and `words`; `acceptor`, if given, is BR0 for the call. */
export function* rpc(env: ProgramEnv, server: ThreadId, label: number, words: readonly number[], acceptor?: number): Op<RpcReply> {
  const br0 = env.utcb + brOffset(0);
  let saved = 0;
  if (acceptor !== undefined) {
    saved = yield* env.read32(br0);
    yield* env.write32(br0, acceptor);
  }
  yield* loadMessage(env, { label, words });
  const result = yield* call(env, server);
  if (acceptor !== undefined) yield* env.write32(br0, saved);
  if (result.tag.error) return { label: -1, words: [], items: [], ipcError: decodeIpcError(result.errorCode).code };
  const { words: results, items } = yield* storeMessage(env, result.tag);
  return { label: result.tag.label, words: results, items, ipcError: 0 };
}

/** The POSIX name of a failed reply: the server's answer, ESRCH (no such server) or EIO (the call failed). */
export function replyErrorName(reply: RpcReply): ErrorName {
  if (reply.label === -1) return reply.ipcError === 2 ? 'ESRCH' : 'EIO';
  return errorName(reply.label);
}
