// physmem's client interface: what programs call, with `yield*`, to get and use memory.
//
//   const cap = yield* physmem.create(env, { frames: 4 });
//   yield* physmem.map(env, cap, 0, 4, 0x10000000, Rights.ReadWrite);
//
// Each operation is one request (a map of more pages than a reply carries is continued until
// all are mapped). Operations that change a container resolve to its new version. Every
// refusal throws a PhysmemError whose `code` is a POSIX name (README.md lists which operation
// gives which). physmem is found through the program's startup page.

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { acceptor } from '../../libl4/acceptor.ts';
import { completeFpage } from '../../libl4/fpage.ts';
import { ServerError, type ErrorName } from '../errno.ts';
import { replyErrorName, rpc, type RpcReply } from '../rpc.ts';
import { rememberMapping } from '../container-mappings.ts';
import { startupOf } from '../startup.ts';
import { ADDRESSES_PER_REPLY, AllocateFlag, CopyFlag, GATHER_PER_REQUEST, InfoFlag, PhysmemNotice, PhysmemOp, ReportFlag, type ContainerInfo, type PhysmemStats } from './protocol.ts';

export type { ContainerInfo, PhysmemStats } from './protocol.ts';

export class PhysmemError extends ServerError {
  constructor(code: ErrorName, message?: string) {
    super('physmem', code, message);
    this.name = 'PhysmemError';
  }
}

export interface CreateOptions {
  /** Frames to allocate at once (create_with), from index 0. */
  readonly frames?: number;
  /** The longest a lock on the container may last, in cycles (default: physmem's lock-us). */
  readonly lockTimeCycles?: number;
}

export interface AllocateOptions {
  /** Physically contiguous frames. */
  readonly contiguous?: boolean;
  /** Physical addresses below this limit (for DMA). */
  readonly below?: number;
}

/** A reclaim request physmem sent to a task's registered thread. */
export interface ReclaimRequest {
  /** Frames to give back. */
  readonly frames: number;
  /** Until when (SystemClock microseconds). */
  readonly deadline: number;
}

function* server(env: ProgramEnv): Op<number> {
  const thread = (yield* startupOf(env)).physmem;
  if (!thread) throw new PhysmemError('ENOSYS', 'there is no physmem in this image');
  return thread;
}

/** One request; the results, or a thrown PhysmemError. */
export function* request(env: ProgramEnv, label: number, words: readonly number[], acceptorWord?: number): Op<RpcReply> {
  const reply = yield* rpc(env, yield* server(env), label, words, acceptorWord);
  if (reply.label !== 0) throw new PhysmemError(replyErrorName(reply));
  return reply;
}

const word = (n: number): number => n >>> 0;

export function* create(env: ProgramEnv, options: CreateOptions = {}): Op<number> {
  const cycles = options.lockTimeCycles ?? 0;
  if (!Number.isSafeInteger(cycles) || cycles < 0) throw new PhysmemError('EINVAL', `lock time ${cycles} cycles`);
  const frames = options.frames ?? 0;
  const reply = yield* request(env, PhysmemOp.Create, [word(frames), cycles % 2 ** 32, Math.floor(cycles / 2 ** 32)]);
  return reply.words[0]!;
}

export function* createFrom(env: ProgramEnv, source: number, start: number, count: number): Op<number> {
  return (yield* request(env, PhysmemOp.CreateFrom, [word(source), word(start), word(count)])).words[0]!;
}

export function* destroy(env: ProgramEnv, cap: number): Op<void> {
  yield* request(env, PhysmemOp.Destroy, [word(cap)]);
}

export function* allocate(env: ProgramEnv, cap: number, start: number, count: number, flags: AllocateOptions = {}): Op<number> {
  const bits = (flags.contiguous ? AllocateFlag.Contiguous : 0) | (flags.below !== undefined ? AllocateFlag.Below : 0);
  return (yield* request(env, PhysmemOp.Allocate, [word(cap), word(start), word(count), bits, word(flags.below ?? 0)])).words[0]!;
}

export function* deallocate(env: ProgramEnv, cap: number, start: number, count: number): Op<number> {
  return (yield* request(env, PhysmemOp.Deallocate, [word(cap), word(start), word(count)])).words[0]!;
}

/** Maps frames start..start+count-1 at `address` in the caller's space with `rights` (libl4 Rights). */
export function* map(env: ProgramEnv, cap: number, start: number, count: number, address: number, rights: number): Op<number> {
  const window = acceptor(completeFpage());
  const first = yield* request(env, PhysmemOp.Map, [word(cap), word(start), word(count), word(address), word(rights)], window);
  const version = first.words[0]!;
  let mapped = first.words[1] ?? 0;
  while (mapped < count) {
    const more = yield* request(env, PhysmemOp.MapMore, [], window);
    const pages = more.words[1] ?? 0;
    if (pages === 0) throw new PhysmemError('EIO', 'physmem stopped mapping');
    mapped += pages;
  }
  // The task's pager may have to map them again (container-mappings.ts).
  rememberMapping((yield* startupOf(env)).task, cap >>> 0, start, count, address >>> 0, rights);
  return version;
}

/** Gives `task` a full reference: the handle it will know the container by. */
export function* grantAccess(env: ProgramEnv, cap: number, task: number): Op<number> {
  return (yield* request(env, PhysmemOp.GrantAccess, [word(cap), word(task)])).words[0]!;
}

/** Gives `task` a weak reference: the handle it will know the container by. */
export function* share(env: ProgramEnv, cap: number, task: number): Op<number> {
  return (yield* request(env, PhysmemOp.Share, [word(cap), word(task)])).words[0]!;
}

/** share, with the container's version after it (002 step 3: the version a server saves). */
export function* shareWithVersion(env: ProgramEnv, cap: number, task: number): Op<{ handle: number; version: number }> {
  const [handle, version] = (yield* request(env, PhysmemOp.Share, [word(cap), word(task), ReportFlag.Version])).words;
  return { handle: handle!, version: version! };
}

export function* lockMap(env: ProgramEnv, cap: number, unmapOthers: boolean): Op<number> {
  return (yield* request(env, PhysmemOp.LockMap, [word(cap), unmapOthers ? 1 : 0])).words[0]!;
}

/** Locks the container and returns its frames' physical addresses, in frame-index order. */
export function* lockPhysical(env: ProgramEnv, cap: number, unmapOthers: boolean): Op<number[]> {
  return (yield* lockPhysicalWithVersion(env, cap, unmapOthers)).addresses;
}

/** lock_physical: the container's version after it, and its frames' physical addresses in frame-index order. */
export function* lockPhysicalWithVersion(env: ProgramEnv, cap: number, unmapOthers: boolean): Op<{ version: number; addresses: number[] }> {
  const first = yield* request(env, PhysmemOp.LockPhysical, [word(cap), unmapOthers ? 1 : 0]);
  const total = first.words[1]!;
  const addresses = first.words.slice(3, 3 + first.words[2]!);
  while (addresses.length < total) {
    const more = yield* request(env, PhysmemOp.PhysicalAddresses, [word(cap), addresses.length]);
    const n = more.words[1]!;
    if (n === 0 || n > ADDRESSES_PER_REPLY) throw new PhysmemError('EIO', 'physmem stopped listing addresses');
    addresses.push(...more.words.slice(2, 2 + n));
  }
  return { version: first.words[0]!, addresses };
}

export function* unlock(env: ProgramEnv, cap: number): Op<number> {
  return (yield* request(env, PhysmemOp.Unlock, [word(cap)])).words[0]!;
}

export function* unmapAll(env: ProgramEnv, cap: number): Op<number> {
  return (yield* request(env, PhysmemOp.UnmapAll, [word(cap)])).words[0]!;
}

/** A logical copy (copy-on-write unless `shared`); resolves to the destination's new version. */
export function* copy(env: ProgramEnv, source: number, sourceStart: number, destination: number, destinationStart: number, count: number, options: { shared?: boolean } = {}): Op<number> {
  const flags = options.shared ? CopyFlag.Shared : 0;
  return (yield* request(env, PhysmemOp.Copy, [word(source), word(sourceStart), word(destination), word(destinationStart), word(count), flags])).words[0]!;
}

/** Both containers' versions after a copy (the source's counts the copy too: its frames became copy-on-write). */
export interface CopyVersions {
  readonly destination: number;
  readonly source: number;
}

/** copy, with both versions after it (002 step 8: the source's tells whether someone else touched it). */
export function* copyWithVersions(env: ProgramEnv, source: number, sourceStart: number, destination: number, destinationStart: number, count: number, options: { shared?: boolean } = {}): Op<CopyVersions> {
  const flags = (options.shared ? CopyFlag.Shared : 0) | CopyFlag.ReportSource;
  const [to, from] = (yield* request(env, PhysmemOp.Copy, [word(source), word(sourceStart), word(destination), word(destinationStart), word(count), flags])).words;
  return { destination: to!, source: from! };
}

/** One copy_gather operation (1 to 59 frames), with both versions after it. */
export function* copyGatherWithVersions(env: ProgramEnv, source: number, frames: readonly number[], destination: number, destinationStart: number): Op<CopyVersions> {
  if (frames.length === 0 || frames.length > GATHER_PER_REQUEST) throw new PhysmemError('EINVAL', `a gather of ${frames.length} frames (1 to ${GATHER_PER_REQUEST})`);
  const [to, from] = (yield* request(env, PhysmemOp.CopyGather, [word(source), word(destination), word(destinationStart), (frames.length | (CopyFlag.ReportSource << 16)) >>> 0, ...frames.map(word)])).words;
  return { destination: to!, source: from! };
}

/**
 * Copies frames `frames` of the source, in that order, to consecutive frames of the destination
 * from `destinationStart`. Up to 59 frames are one operation; a longer list is several.
 */
export function* copyGather(env: ProgramEnv, source: number, frames: readonly number[], destination: number, destinationStart: number): Op<number> {
  if (frames.length === 0) throw new PhysmemError('EINVAL', 'no frames to gather');
  let version = 0;
  for (let at = 0; at < frames.length; at += GATHER_PER_REQUEST) {
    const part = frames.slice(at, at + GATHER_PER_REQUEST).map(word);
    version = (yield* request(env, PhysmemOp.CopyGather, [word(source), word(destination), word(destinationStart + at), part.length, ...part])).words[0]!;
  }
  return version;
}

export function* info(env: ProgramEnv, cap: number): Op<ContainerInfo> {
  const [frames, version, flags, giver] = (yield* request(env, PhysmemOp.Info, [word(cap)])).words;
  return { frames: frames!, version: version!, locked: (flags! & InfoFlag.Locked) !== 0, weak: (flags! & InfoFlag.Weak) !== 0, giver: giver ?? 0 };
}

export function* stats(env: ProgramEnv): Op<PhysmemStats> {
  const [total, free, reserved, guaranteed, allocated, extra] = (yield* request(env, PhysmemOp.Stats, [])).words;
  return { total: total!, free: free!, reserved: reserved!, guaranteed: guaranteed!, allocated: allocated!, extra: extra! };
}

/** Registers `thread` (of the caller's task) to receive physmem's reclaim requests. */
export function* onReclaim(env: ProgramEnv, thread: number): Op<void> {
  yield* request(env, PhysmemOp.OnReclaim, [word(thread)]);
}

/** The reclaim request a received message (its label and untyped words) is, or null for any other. */
export function reclaimRequest(label: number, words: readonly number[]): ReclaimRequest | null {
  if (label !== PhysmemNotice.Reclaim || words.length < 3) return null;
  return { frames: words[0]!, deadline: words[1]! + words[2]! * 2 ** 32 };
}

// ---- The control capability (the policy server's) ---------------------------------------------

/** Sets `task`'s guarantee to `frames`; refused (ENOMEM) if the guarantees would exceed the box. */
export function* setGuarantee(env: ProgramEnv, task: number, frames: number): Op<number> {
  return (yield* request(env, PhysmemOp.SetGuarantee, [word(task), word(frames)])).words[0]!;
}

export interface GuaranteeInfo {
  /** The task's guarantee and the frames it holds. */
  guarantee: number;
  committed: number;
  /** The box's frames and the sum of all guarantees. */
  total: number;
  guaranteed: number;
}

export function* guaranteeInfo(env: ProgramEnv, task: number): Op<GuaranteeInfo> {
  const [guarantee, committed, total, guaranteed] = (yield* request(env, PhysmemOp.GuaranteeInfo, [word(task)])).words;
  return { guarantee: guarantee!, committed: committed!, total: total!, guaranteed: guaranteed! };
}

/** What happens to a task that does not give frames back in time: revoked only, or revoked and killed. */
export function* setReclaimAction(env: ProgramEnv, kill: boolean): Op<void> {
  yield* request(env, PhysmemOp.SetReclaimAction, [kill ? 1 : 0]);
}

// ---- The task server's reports ----------------------------------------------------------------------

export function* taskStarted(env: ProgramEnv, task: number): Op<void> {
  yield* request(env, PhysmemOp.TaskStarted, [word(task)]);
}

export function* taskDied(env: ProgramEnv, task: number): Op<void> {
  yield* request(env, PhysmemOp.TaskDied, [word(task)]);
}
