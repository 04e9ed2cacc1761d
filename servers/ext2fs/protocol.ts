// ext2fs's wire protocol, shared by the file server (main.ts) and its clients (client.ts).
// README.md has the same table for users. Replies: label 0 or an error number (../errno.ts).
//
// A file is a number the server gave the calling task at open (valid in that task only). Data
// moves in containers the client supplies (002's "reading from a file"): the client shares a
// container with the server and names the server's handle for it; the file's bytes from
// `offset` go to (read) or come from (write) the container's bytes from 0, frame i holding
// bytes offset + 4096 i .. offset + 4096 i + 4095. Offsets are multiples of 4096 (a page of
// the page cache is one frame of a container).

export const FsOp = {
  /** [flags (OpenFlag), path bytes, path words] -> [file, inode, size low, size high, mode] */
  Open: 0x5901,
  /** [file] -> [] */
  Close: 0x5902,
  /** [file, offset low, offset high, length, container] -> [bytes read] */
  Read: 0x5903,
  /** [file, offset low, offset high, length, container] -> [bytes written] */
  Write: 0x5904,
  /** [file] -> [inode, mode, links, uid, gid, size low, size high, blocks, mtime] */
  Stat: 0x5905,
  /**
   * [file, index, part] -> [next index (0: no more), inode, type, name bytes, name words]: the
   * directory's entry at `index` (0 first), its name's bytes from part x NAME_BYTES_PER_REPLY
   */
  Readdir: 0x5906,
  /** [] -> FsStats's words, in its order */
  Stats: 0x5907,
} as const;

export const OpenFlag = { Write: 1 } as const;

/** Bytes of a path in one open request (61 words after the flags and the length). */
export const PATH_BYTES = 240;
/** Bytes of a name in one readdir reply (59 words after the four result words). */
export const NAME_BYTES_PER_REPLY = 236;
export const PAGE = 4096;

/** The server's counters (FsOp.Stats). */
export interface FsStats {
  /** fs_read requests answered with data. */
  readonly reads: number;
  /** Pages those reads found in the page cache, and pages they read from the disk. */
  readonly cacheHits: number;
  readonly cacheMisses: number;
  /** device_read calls for file data, and for metadata. */
  readonly dataTransfers: number;
  readonly metadataTransfers: number;
  /** Reads failed because a container's version was not the one expected (002 step 8). */
  readonly versionFailures: number;
  /** Pages evicted from the cache (its own policy, or physmem's reclaim). */
  readonly evictions: number;
  /** Pages in the cache now. */
  readonly cachedPages: number;
  readonly writes: number;
  /** Requests answered with EIO (disk errors, version failures). */
  readonly ioErrors: number;
}

export const FS_STATS_KEYS: readonly (keyof FsStats)[] = ['reads', 'cacheHits', 'cacheMisses', 'dataTransfers', 'metadataTransfers', 'versionFailures', 'evictions', 'cachedPages', 'writes', 'ioErrors'];
