// The store's client interface.
//
//   const store = yield* storeClient.find(env);                  // the image's store, or 0
//   const handle = yield* physmem.share(env, container, store & 0x3fff);
//   yield* storeClient.attach(env, store, handle);
//   yield* storeClient.write(env, store, 7, 0, page >>> 12);      // keep frame 7's page
//   yield* storeClient.read(env, store, 3, 0, page >>> 12);       // bring it back into frame 3
//
// Every transfer moves one page between a frame of the attached container and the store's
// medium, and costs the medium's time (README.md). Errors throw a StoreError with a POSIX code:
// EPERM (attach of a container the caller did not give the store), ENOENT (no page under that
// key), ENOSPC (the medium is full), EINVAL (no container attached, a frame it does not hold),
// ESRCH (no store).

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { ServerError, type ErrorName } from '../errno.ts';
import { replyErrorName, rpc, type RpcReply } from '../rpc.ts';
import * as task from '../task/client.ts';
import { StoreOp, type StoreStats } from './protocol.ts';

export type { StoreStats } from './protocol.ts';

export class StoreError extends ServerError {
  constructor(code: ErrorName, message?: string) {
    super('store', code, message);
    this.name = 'StoreError';
  }
}

/** The store's thread, found by its module name, or 0 when the image has none. */
export function* find(env: ProgramEnv, name: string = 'store'): Op<number> {
  try {
    return yield* task.lookup(env, name);
  } catch (error) {
    if (error instanceof ServerError && (error.code === 'ESRCH' || error.code === 'ENOSYS')) return 0;
    throw error;
  }
}

function* request(env: ProgramEnv, store: number, label: number, words: readonly number[]): Op<RpcReply> {
  if (!store) throw new StoreError('ESRCH', 'there is no store in this image');
  const reply = yield* rpc(env, store, label, words);
  if (reply.label !== 0) throw new StoreError(replyErrorName(reply));
  return reply;
}

const word = (n: number): number => n >>> 0;

/** Attaches the container the store knows as `handle` (which the caller shared or granted it). */
export function* attach(env: ProgramEnv, store: number, handle: number): Op<void> {
  yield* request(env, store, StoreOp.Attach, [word(handle)]);
}

/** Keeps a copy of frame `index` of the attached container under (object, offset). */
export function* write(env: ProgramEnv, store: number, index: number, object: number, offset: number): Op<void> {
  yield* request(env, store, StoreOp.Write, [word(index), word(object), word(offset)]);
}

/** Fills frame `index` of the attached container with the page kept under (object, offset). */
export function* read(env: ProgramEnv, store: number, index: number, object: number, offset: number): Op<void> {
  yield* request(env, store, StoreOp.Read, [word(index), word(object), word(offset)]);
}

/** Forgets the pages kept under offsets offset..offset+count-1 of `object`; resolves to how many there were. */
export function* discard(env: ProgramEnv, store: number, object: number, offset: number, count: number): Op<number> {
  return (yield* request(env, store, StoreOp.Discard, [word(object), word(offset), word(count)])).words[0]!;
}

export function* stats(env: ProgramEnv, store: number): Op<StoreStats> {
  const [kept, reads, writes, keptTotal, capacity] = (yield* request(env, store, StoreOp.Stats, [])).words;
  return { kept: kept!, reads: reads!, writes: writes!, keptTotal: keptTotal!, capacity: capacity! };
}
