// physmem's wire protocol: request labels and the words of each request and reply, shared by
// the server (main.ts) and the client stubs (client.ts). README.md has the same table for users.
//
// Every request is a Call. Its label (MR0 bits 31-16) names the operation; MR1.. are the words
// below. The reply's label is 0 or an error number (../errno.ts); its untyped words are the
// results below; a map reply carries map items after them.

export const PhysmemOp = {
  /** [frames, lockTimeLow, lockTimeHigh] (lock time in cycles, 0: default) -> [handle, version] */
  Create: 0x5001,
  /** [source, start, count] -> [handle, version] */
  CreateFrom: 0x5002,
  /** [handle] -> [] */
  Destroy: 0x5003,
  /** [handle, start, count, flags (AllocateFlag), below] -> [version] */
  Allocate: 0x5004,
  /** [handle, start, count] -> [version] */
  Deallocate: 0x5005,
  /** [handle, start, count, address, rights] -> [version, pages mapped] + map items */
  Map: 0x5006,
  /** [] -> [version, pages mapped] + map items: more of the caller's last map */
  MapMore: 0x5007,
  /** [handle, task, flags (ReportFlag; optional)] -> [handle in that task (, version)] */
  GrantAccess: 0x5008,
  /** [handle, task, flags (ReportFlag; optional)] -> [weak handle in that task (, version)] */
  Share: 0x5009,
  /** [handle, unmapOthers] -> [version] */
  LockMap: 0x500a,
  /** [handle, unmapOthers] -> [version, frames, n, address x n] */
  LockPhysical: 0x500b,
  /** [handle, from] -> [frames, n, address x n]: more physical addresses of a physical lock */
  PhysicalAddresses: 0x500c,
  /** [handle] -> [version] */
  Unlock: 0x500d,
  /** [handle] -> [version] */
  UnmapAll: 0x500e,
  /** [source, sourceStart, destination, destinationStart, count, flags (CopyFlag)] -> [destination's version (, source's)] */
  Copy: 0x500f,
  /** [source, destination, destinationStart, n | flags (CopyFlag) << 16, index x n] -> [destination's version (, source's)] */
  CopyGather: 0x5010,
  /** [handle] -> [frames, version, flags (InfoFlag), giver] */
  Info: 0x5011,
  /** [] -> [total, free, reserved, guaranteed, allocated, extra] */
  Stats: 0x5012,
  /** [thread] -> [] */
  OnReclaim: 0x5013,
  // The control capability (the policy server's):
  /** [task, frames] -> [frames] */
  SetGuarantee: 0x5020,
  /** [task] -> [guarantee, committed, total, guaranteed] */
  GuaranteeInfo: 0x5021,
  /** [kill (0 or 1)] -> [] */
  SetReclaimAction: 0x5022,
  // The task server's reports:
  /** [task] -> [] */
  TaskStarted: 0x5030,
  /** [task] -> [] */
  TaskDied: 0x5031,
} as const;

/** Messages physmem sends without being asked (no reply is expected). */
export const PhysmemNotice = {
  /** To a task's registered thread: [frames, deadlineLow, deadlineHigh] (SystemClock microseconds). */
  Reclaim: 0x5040,
  /** To the task server: [task] (a task that ignored a reclaim request, under the kill policy). */
  Kill: 0x5041,
} as const;

export const AllocateFlag = { Contiguous: 1, Below: 2 } as const;
/** ReportSource: the reply also carries the source's version after the copy. */
export const CopyFlag = { Shared: 1, ReportSource: 2 } as const;
/** Version: grant_access's and share's reply also carries the container's version after it. */
export const ReportFlag = { Version: 1 } as const;
export const InfoFlag = { Locked: 1, Weak: 2 } as const;

/** Map items one map reply carries (2 words each, after the 2 result words). */
export const MAP_ITEMS_PER_REPLY = 30;
/** Physical addresses one lock_physical or physical-addresses reply carries. */
export const ADDRESSES_PER_REPLY = 60;
/** Frame indices one copy_gather request carries. */
export const GATHER_PER_REQUEST = 59;

/** stats: the box's frames (free + allocated + reserved = total; see README.md). */
export interface PhysmemStats {
  total: number;
  free: number;
  /** Allocated container frames that have no frame yet (lazily allocated). */
  reserved: number;
  /** The sum of all guarantees. */
  guaranteed: number;
  /** Allocated container frames that have a frame. */
  allocated: number;
  /** Frames tasks hold beyond their guarantees. */
  extra: number;
}

/** info: a container as one reference sees it. */
export interface ContainerInfo {
  /** Allocated frames. */
  frames: number;
  version: number;
  locked: boolean;
  /** Reached through a weak reference. */
  weak: boolean;
  /**
   * The task that gave this reference: its creator, or the task that granted or shared it. A
   * server that is handed a handle checks it against the caller (servers/store does), so that a
   * client cannot name a container someone else gave the server.
   */
  giver: number;
}
