// The types of libhurd-mm's client interface (index.ts), shared by the self-paging pager
// (pager.ts), the central pager's client (central.ts) and servers/central-pager.

import { ServerError, type ErrorName } from '../servers/errno.ts';

/** The named eviction policies (policies.ts says what each one evicts). */
export type PolicyName = 'clock' | 'fifo' | 'mru' | 'random';

/** A resident page offered to a policy function. */
export interface Candidate {
  /** The page's address. */
  readonly address: number;
  /** Referenced since the pager last looked (the MMU's accessed bit, read through Unmap). */
  readonly referenced: boolean;
  /** Changed since it was last written to the store (or since it was zero-filled). */
  readonly dirty: boolean;
  /** Faults the pager has handled since the page came in or was last found referenced. */
  readonly age: number;
}

/**
 * A policy the program supplies: given the resident candidates (in the order they came in,
 * oldest first), it returns the one to evict (the candidate object, or its address). It runs in
 * the pager thread and must not call libhurd-mm or yield.
 */
export type PolicyFunction = (candidates: readonly Candidate[]) => Candidate | number;

export type Policy = PolicyName | PolicyFunction;

export interface PagerOptions {
  /** Frames to negotiate with the policy server: the task's guarantee. */
  readonly guarantee: number;
  /** Extra frames the pager may take beyond the guarantee while physmem grants them (default 0). */
  readonly extra?: number;
  /** The task's eviction policy (default 'clock'). */
  readonly policy?: Policy;
}

/** Anonymous memory is paged to the store; discardable memory is dropped instead (README.md). */
export type Kind = 'anonymous' | 'discardable';

export interface MmapOptions {
  /** Bytes (rounded up to whole pages). */
  readonly size: number;
  /** libl4's Rights bits (default Rights.ReadWrite); read is needed unless rights are 0. */
  readonly rights?: number;
  readonly kind?: Kind;
  /** The region's own policy, for choosing which of its pages goes (default: the task's). */
  readonly policy?: Policy;
  /** A fixed, page-aligned address (default: the pager picks one). */
  readonly address?: number;
  /**
   * A file of the file server (servers/ext2fs/client.ts's open): the region shows its bytes
   * from `offset` (a multiple of 4096), read-only, paged in through the file server.
   */
  readonly file?: number;
  readonly offset?: number;
}

/**
 * madvise hints: `willneed` brings the pages in now, `dontneed` drops them now (their contents
 * are gone: the next access finds zeros), `sequential` reads ahead on every fault in the range,
 * `normal` undoes `sequential`.
 */
export type Advice = 'normal' | 'sequential' | 'willneed' | 'dontneed';
export const ADVICE: readonly Advice[] = ['normal', 'sequential', 'willneed', 'dontneed'];

/** What stats(env) reports. */
export interface MmStats {
  /** 'self': libhurd-mm's own pager; 'central': the central pager's client. */
  readonly mode: 'self' | 'central';
  /** Page faults of the task's threads that its pager served. */
  faults: number;
  /** Pages filled with zeros (first touch, or after a discard or dontneed). */
  zeroFills: number;
  /** Pages read back from the store, and written to it. */
  pageIns: number;
  pageOuts: number;
  /** Resident pages evicted to reuse or give back their frames. */
  evictions: number;
  /** Pages of discardable regions dropped with data in them (never written to the store). */
  discards: number;
  /** Pages brought in ahead of a fault (willneed, sequential read-ahead). */
  prefetched: number;
  /** Faults on resident pages whose mapping had gone or had fewer rights than the region. */
  remaps: number;
  /** Reclaim requests answered, and frames given back on them. */
  reclaims: number;
  framesGivenBack: number;
  /** Frames the task holds for its pages, its guarantee, and those beyond it. */
  framesHeld: number;
  guaranteed: number;
  extra: number;
  /** Pages resident now. */
  resident: number;
}

export function emptyStats(mode: 'self' | 'central'): MmStats {
  return { mode, faults: 0, zeroFills: 0, pageIns: 0, pageOuts: 0, evictions: 0, discards: 0, prefetched: 0, remaps: 0, reclaims: 0, framesGivenBack: 0, framesHeld: 0, guaranteed: 0, extra: 0, resident: 0 };
}

/** libhurd-mm's refusals: `code` is a POSIX name (EINVAL, ENOMEM, EBUSY, ENOSYS, ...). */
export class MmError extends ServerError {
  constructor(code: ErrorName, message?: string) {
    super('mm', code, message);
    this.name = 'MmError';
  }
}

/** The exit status of a task that made a segmentation fault (128 + SIGSEGV). */
export const SEGFAULT_STATUS = 139;
/** The exit status of a task whose memory failed (128 + SIGKILL, as the default pager's). */
export const MEMORY_FAILURE_STATUS = 137;

/** Where the pager places regions mmap is not given an address for, up to the UTCB area. */
export const MMAP_BASE = 0x10000000;
export const MMAP_TOP = 0xbf000000;
export const PAGE = 4096;
