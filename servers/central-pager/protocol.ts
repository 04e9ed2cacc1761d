// The central pager's wire protocol, shared by the server (main.ts) and its client, which is
// libhurd-mm in a task of an image that holds a central pager (libhurd-mm/central.ts). README.md
// has the same table. Every request is a Call; the reply's label is 0 or an error number.

export const CentralOp = {
  /** [helper thread] -> [frames in the pool]: the caller's task becomes a client */
  Attach: 0x5901,
  /** [address, size, rights, kind (0 anonymous, 1 discardable)] -> []: a region */
  Map: 0x5902,
  /** [address, size] -> [] */
  Unmap: 0x5903,
  /** [address, size, rights] -> [] */
  Protect: 0x5904,
  /** [address, size, advice (index in libhurd-mm's ADVICE)] -> [] */
  Advise: 0x5905,
  /** [] -> [faults, zeroFills, pageIns, pageOuts, evictions, remaps, framesHeld, resident] */
  Stats: 0x5906,
  /** [thread] -> []: from the client's helper: restart the client's thread held at a fault */
  Resume: 0x5907,
} as const;

/** Messages the central pager sends without being asked (no reply is expected). */
export const CentralNotice = {
  /**
   * To a client's helper thread: [address, write, thread, kind (FaultKind)]: a fault the
   * central pager does not serve, which the task decides (its image, its own container
   * mappings, a segmentation fault). The faulting thread is held until the helper sends
   * Resume, or the task ends.
   */
  Fault: 0x5940,
} as const;

export const FaultKind = {
  /** Outside every region of the client. */
  Outside: 0,
  /** Against the region's rights. */
  Rights: 1,
  /** In a region, but the central pager could not serve it (the store failed, say). */
  Failed: 2,
} as const;

export const KIND_ANONYMOUS = 0;
export const KIND_DISCARDABLE = 1;
