// deva's wire protocol, shared by the driver (main.ts) and its clients (client.ts). README.md
// has the same table for users. Replies: label 0 or an error number (../errno.ts).
//
// A transfer names a container the client shared with deva and up to RUNS_PER_REQUEST runs,
// each three words: the first sector, the number of sectors, and the byte offset in the
// container (a multiple of 512) where the run's data goes (read) or comes from (write). The
// container's frames 0 .. n-1 must be allocated (its frames in index order are its bytes).

export const DeviceOp = {
  /** [handle, runs, (sector, sectors, offset) x runs] -> [operations, sectors] */
  Read: 0x5801,
  /** [handle, runs, (sector, sectors, offset) x runs] -> [operations, sectors] */
  Write: 0x5802,
  /** [] -> [sectors, sector bytes, max sectors per command] */
  Info: 0x5803,
  /** [] -> [commands, sectors read, sectors written, errors, interrupts] */
  Stats: 0x5804,
} as const;

/** Runs one request carries. */
export const RUNS_PER_REQUEST = 20;

/** One run of a transfer. */
export interface Run {
  readonly sector: number;
  readonly sectors: number;
  /** Byte offset in the container. */
  readonly offset: number;
}
