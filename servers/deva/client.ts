// deva's client interface: what the file server (or any client the driver serves) calls.
//
//   const deva = yield* devaClient.find(env);                         // the image's driver, or 0
//   const handle = yield* physmem.share(env, container, deva & 0x3fff);
//   const { operations } = yield* devaClient.read(env, deva, handle, [{ sector: 2, sectors: 2, offset: 0 }]);
//
// A transfer locks the container (lock_physical, unmapping every other mapping of it), moves
// the runs by DMA, unlocks it, and resolves to the number of operations the driver made on the
// container (002 step 7), so that the caller can check the container's version. Errors throw a
// DevaError with a POSIX code: EIO (the disk reported an error, or gave no interrupt; the
// operations made so far are in `operations`), EINVAL (a malformed request, a run outside the
// container), EPERM (not a client of the driver, or a container the caller did not give it),
// EBUSY (the container is locked), ESRCH (no driver).

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { ServerError, type ErrorName } from '../errno.ts';
import { replyErrorName, rpc } from '../rpc.ts';
import * as task from '../task/client.ts';
import { DeviceOp, RUNS_PER_REQUEST, type Run } from './protocol.ts';

export type { Run } from './protocol.ts';
export { RUNS_PER_REQUEST } from './protocol.ts';

export class DevaError extends ServerError {
  /** Operations the driver made on the container before it failed. */
  readonly operations: number;
  constructor(code: ErrorName, operations = 0, message?: string) {
    super('deva', code, message);
    this.name = 'DevaError';
    this.operations = operations;
  }
}

export interface Transfer {
  /** Operations the driver made on the container (lock_physical and unlock: 2). */
  readonly operations: number;
  readonly sectors: number;
}

export interface DiskInfo {
  readonly sectors: number;
  readonly sectorBytes: number;
  readonly maxSectors: number;
}

export interface DiskStats {
  readonly commands: number;
  readonly sectorsRead: number;
  readonly sectorsWritten: number;
  readonly errors: number;
  readonly interrupts: number;
}

/** The driver's thread, found by its module name, or 0 when the image has none. */
export function* find(env: ProgramEnv, name: string = 'deva'): Op<number> {
  try {
    return yield* task.lookup(env, name);
  } catch (error) {
    if (error instanceof ServerError && (error.code === 'ESRCH' || error.code === 'ENOSYS')) return 0;
    throw error;
  }
}

function* transfer(env: ProgramEnv, deva: number, label: number, handle: number, runs: readonly Run[]): Op<Transfer> {
  if (!deva) throw new DevaError('ESRCH', 0, 'there is no disk driver in this image');
  if (runs.length === 0 || runs.length > RUNS_PER_REQUEST) throw new DevaError('EINVAL', 0, `${runs.length} runs (1 to ${RUNS_PER_REQUEST} a request)`);
  const words = [handle >>> 0, runs.length, ...runs.flatMap((r) => [r.sector >>> 0, r.sectors >>> 0, r.offset >>> 0])];
  const reply = yield* rpc(env, deva, label, words);
  if (reply.label !== 0) throw new DevaError(replyErrorName(reply), reply.words[0] ?? 0);
  return { operations: reply.words[0]!, sectors: reply.words[1]! };
}

/** Reads the runs from the disk into the container (the driver's handle for it). */
export function read(env: ProgramEnv, deva: number, handle: number, runs: readonly Run[]): Op<Transfer> {
  return transfer(env, deva, DeviceOp.Read, handle, runs);
}

/** Writes the runs from the container to the disk. */
export function write(env: ProgramEnv, deva: number, handle: number, runs: readonly Run[]): Op<Transfer> {
  return transfer(env, deva, DeviceOp.Write, handle, runs);
}

export function* info(env: ProgramEnv, deva: number): Op<DiskInfo> {
  const reply = yield* rpc(env, deva, DeviceOp.Info, []);
  if (reply.label !== 0) throw new DevaError(replyErrorName(reply));
  const [sectors, sectorBytes, maxSectors] = reply.words;
  return { sectors: sectors!, sectorBytes: sectorBytes!, maxSectors: maxSectors! };
}

export function* stats(env: ProgramEnv, deva: number): Op<DiskStats> {
  const reply = yield* rpc(env, deva, DeviceOp.Stats, []);
  if (reply.label !== 0) throw new DevaError(replyErrorName(reply));
  const [commands, sectorsRead, sectorsWritten, errors, interrupts] = reply.words;
  return { commands: commands!, sectorsRead: sectorsRead!, sectorsWritten: sectorsWritten!, errors: errors!, interrupts: interrupts! };
}
