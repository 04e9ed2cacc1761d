// An ext2 volume's metadata: the superblock and group descriptors, inodes, block maps,
// directories and symbolic links, read through an I/O port and kept in caches of their own.
//
// The volume knows nothing of how blocks come off the disk: `VolumeIo.read` moves byte ranges
// (the file server does it through the driver into a container of its own, with the version
// checks; a test does it from an array). Parsed metadata lives in host memory, as physmem's
// tables do: inodes and directory listings by number, and the raw metadata blocks (inode
// tables, indirect blocks) in an LRU of `metadataBlocks` blocks. Nothing here is ever written:
// the file server writes only file data, into blocks files already have.
//
// The block map (a file's block number i to a disk block): 12 direct pointers, then the single,
// double and triple indirect blocks, each a block of 4-byte pointers; a pointer of 0 is a hole
// (it reads as zeros). Paths are absolute (a relative one is taken from the root); symbolic links
// are followed, at most 8 in one lookup.

import type { Op } from '../../libl4/abi.ts';
import type { ErrorName } from '../errno.ts';
import { decodeUtf8, encodeUtf8 } from '../text.ts';
import {
  DIRECT_BLOCKS,
  direntTypeOf,
  DirentType,
  EXTENTS_FLAG,
  FileMode,
  FormatError,
  groupDescriptorBlock,
  GROUP_DESCRIPTOR_BYTES,
  Incompat,
  inlineBytes,
  inodeLocation,
  isFastSymlink,
  parseDirectoryBlock,
  parseGroupDescriptors,
  parseInode,
  parseSuperblock,
  ROOT_INODE,
  S_IFMT,
  SUPERBLOCK_BYTES,
  SUPERBLOCK_OFFSET,
  u32,
  type DirEntry,
  type GroupDescriptor,
  type Inode,
  type Superblock,
} from './ext2.ts';

export interface ByteRange {
  /** Byte offset on the disk (a multiple of 512). */
  readonly offset: number;
  /** Bytes (a multiple of 512). */
  readonly length: number;
}

export interface VolumeIo {
  /** Reads the ranges; resolves to their bytes, in order. Throws VolumeError (EIO) when the disk fails. */
  read(ranges: readonly ByteRange[]): Op<Uint8Array[]>;
}

/** A refusal of the volume: `code` is the POSIX name the file server answers with. */
export class VolumeError extends Error {
  readonly code: ErrorName;
  constructor(code: ErrorName, message: string) {
    super(`${code}: ${message}`);
    this.name = 'VolumeError';
    this.code = code;
  }
}

export const MAX_SYMLINKS = 8;
export const MAX_NAME_BYTES = 255;

export interface VolumeCounters {
  /** Metadata blocks read from the disk, and found in the cache. */
  metadataReads: number;
  metadataHits: number;
}

export class Volume {
  readonly counters: VolumeCounters = { metadataReads: 0, metadataHits: 0 };
  private readonly blockCache = new Map<number, Uint8Array>();
  private readonly inodes = new Map<number, Inode>();
  private readonly directories = new Map<number, DirEntry[]>();
  private readonly pointersPerBlock: number;

  private constructor(
    private readonly io: VolumeIo,
    readonly sb: Superblock,
    readonly groups: readonly GroupDescriptor[],
    private readonly metadataBlocks: number,
  ) {
    this.pointersPerBlock = sb.blockSize / 4;
  }

  /** Reads the superblock and the group descriptors. Throws VolumeError (EIO) for a volume it cannot serve. */
  static *mount(io: VolumeIo, options: { metadataBlocks?: number } = {}): Op<Volume> {
    const [bytes] = yield* io.read([{ offset: SUPERBLOCK_OFFSET, length: SUPERBLOCK_BYTES }]);
    let sb: Superblock;
    try {
      sb = parseSuperblock(bytes!);
    } catch (error) {
      if (error instanceof FormatError) throw new VolumeError('EIO', error.message);
      throw error;
    }
    const tableBlocks = Math.ceil((sb.groups * GROUP_DESCRIPTOR_BYTES) / sb.blockSize);
    const [table] = yield* io.read([{ offset: groupDescriptorBlock(sb) * sb.blockSize, length: tableBlocks * sb.blockSize }]);
    let groups: GroupDescriptor[];
    try {
      groups = parseGroupDescriptors(table!, sb);
    } catch (error) {
      if (error instanceof FormatError) throw new VolumeError('EIO', error.message);
      throw error;
    }
    return new Volume(io, sb, groups, options.metadataBlocks ?? 512);
  }

  get blockSize(): number {
    return this.sb.blockSize;
  }

  get hasFiletype(): boolean {
    return (this.sb.incompat & Incompat.Filetype) !== 0;
  }

  /** Metadata blocks, from the cache or the disk (the misses in one read, runs merged). */
  *blocks(numbers: readonly number[]): Op<Uint8Array[]> {
    const bs = this.sb.blockSize;
    const missing: number[] = [];
    for (const n of numbers) {
      if (!Number.isInteger(n) || n < this.sb.firstDataBlock || n >= this.sb.blocksCount) throw new VolumeError('EIO', `metadata block ${n} is outside the volume (${this.sb.blocksCount} blocks): the volume is corrupt`);
      if (this.blockCache.has(n)) this.counters.metadataHits++;
      else if (!missing.includes(n)) missing.push(n);
    }
    if (missing.length > 0) {
      missing.sort((a, b) => a - b);
      const runs: { first: number; count: number }[] = [];
      for (const n of missing) {
        const last = runs[runs.length - 1];
        if (last && last.first + last.count === n) last.count++;
        else runs.push({ first: n, count: 1 });
      }
      const read = yield* this.io.read(runs.map((r) => ({ offset: r.first * bs, length: r.count * bs })));
      runs.forEach((r, i) => {
        for (let k = 0; k < r.count; k++) this.remember(r.first + k, read[i]!.slice(k * bs, (k + 1) * bs));
      });
      this.counters.metadataReads += missing.length;
    }
    return numbers.map((n) => {
      const bytes = this.blockCache.get(n)!;
      // Most recently used last.
      this.blockCache.delete(n);
      this.blockCache.set(n, bytes);
      return bytes;
    });
  }

  private remember(n: number, bytes: Uint8Array): void {
    this.blockCache.set(n, bytes);
    while (this.blockCache.size > this.metadataBlocks) this.blockCache.delete(this.blockCache.keys().next().value!);
  }

  *inode(number: number): Op<Inode> {
    const known = this.inodes.get(number);
    if (known) return known;
    let location: { block: number; offset: number };
    try {
      location = inodeLocation(this.sb, this.groups, number);
    } catch (error) {
      if (error instanceof FormatError) throw new VolumeError('EIO', error.message);
      throw error;
    }
    const [block] = yield* this.blocks([location.block]);
    const inode = parseInode(block!, location.offset, number, this.sb);
    this.inodes.set(number, inode);
    return inode;
  }

  /**
   * The disk blocks of file blocks first .. first + count - 1 of `inode` (0: a hole). Blocks
   * past the block map's reach (triple indirect) are refused with EFBIG.
   */
  *fileBlocks(inode: Inode, first: number, count: number): Op<number[]> {
    if (inode.flags & EXTENTS_FLAG) throw new VolumeError('EIO', `inode ${inode.number} uses extents (ext4), which ext2 cannot read`);
    const p = this.pointersPerBlock;
    const out: number[] = [];
    for (let i = first; i < first + count; i++) {
      if (i < DIRECT_BLOCKS) {
        out.push(inode.block[i]!);
        continue;
      }
      let index = i - DIRECT_BLOCKS;
      let path: number[];
      let top: number;
      if (index < p) {
        top = inode.block[12]!;
        path = [index];
      } else if ((index -= p) < p * p) {
        top = inode.block[13]!;
        path = [Math.floor(index / p), index % p];
      } else if ((index -= p * p) < p * p * p) {
        top = inode.block[14]!;
        path = [Math.floor(index / (p * p)), Math.floor(index / p) % p, index % p];
      } else throw new VolumeError('EFBIG', `block ${i} is beyond what the block map reaches`);
      let block = top;
      for (const step of path) {
        if (block === 0) break;
        const [bytes] = yield* this.blocks([block]);
        block = u32(bytes!, 4 * step);
      }
      out.push(block);
    }
    return out;
  }

  /** The bytes of a small file read through the metadata path (directories, slow symlinks). */
  private *contents(inode: Inode): Op<Uint8Array> {
    const bs = this.sb.blockSize;
    const count = Math.ceil(inode.size / bs);
    const numbers = yield* this.fileBlocks(inode, 0, count);
    const present = numbers.filter((n) => n !== 0);
    const read = yield* this.blocks(present);
    const out = new Uint8Array(count * bs);
    let at = 0;
    numbers.forEach((n, i) => {
      if (n !== 0) out.set(read[at++]!, i * bs);
    });
    return out;
  }

  /** The entries of directory `inode` (without unused ones; "." and ".." included). */
  *readDirectory(inode: Inode): Op<DirEntry[]> {
    if ((inode.mode & S_IFMT) !== FileMode.Directory) throw new VolumeError('ENOTDIR', `inode ${inode.number} is not a directory`);
    const known = this.directories.get(inode.number);
    if (known) return known;
    const bytes = yield* this.contents(inode);
    const bs = this.sb.blockSize;
    const entries: DirEntry[] = [];
    try {
      for (let at = 0; at + bs <= bytes.length; at += bs) entries.push(...parseDirectoryBlock(bytes.subarray(at, at + bs), this.hasFiletype, decodeUtf8));
    } catch (error) {
      if (error instanceof FormatError) throw new VolumeError('EIO', `directory inode ${inode.number}: ${error.message}`);
      throw error;
    }
    this.directories.set(inode.number, entries);
    return entries;
  }

  /** A symbolic link's target. */
  *readSymlink(inode: Inode): Op<string> {
    if ((inode.mode & S_IFMT) !== FileMode.Symlink) throw new VolumeError('EINVAL', `inode ${inode.number} is not a symbolic link`);
    if (isFastSymlink(inode, this.sb.blockSize)) return decodeUtf8(inlineBytes(inode).subarray(0, Math.min(60, inode.size)));
    if (inode.size > this.sb.blockSize) throw new VolumeError('EIO', `a symbolic link of ${inode.size} bytes`);
    return decodeUtf8((yield* this.contents(inode)).subarray(0, inode.size));
  }

  /** The inode `path` names (symbolic links followed, the last one too unless `noFollow`). */
  *resolve(path: string, noFollow = false): Op<Inode> {
    let links = 0;
    let pending = components(path);
    let stack: Inode[] = [yield* this.inode(ROOT_INODE)];
    while (pending.length > 0) {
      const name = pending.shift()!;
      const directory = stack[stack.length - 1]!;
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      if ((directory.mode & S_IFMT) !== FileMode.Directory) throw new VolumeError('ENOTDIR', `a component before '${name}' is not a directory`);
      const entry = (yield* this.readDirectory(directory)).find((e) => e.name === name);
      if (!entry) throw new VolumeError('ENOENT', `no '${name}' in ${describe(path)}`);
      const inode = yield* this.inode(entry.inode);
      if ((inode.mode & S_IFMT) === FileMode.Symlink && (pending.length > 0 || !noFollow)) {
        if (++links > MAX_SYMLINKS) throw new VolumeError('ELOOP', `more than ${MAX_SYMLINKS} symbolic links in ${describe(path)}`);
        const target = yield* this.readSymlink(inode);
        if (target.startsWith('/')) stack = [stack[0]!];
        pending = [...components(target), ...pending];
        continue;
      }
      stack.push(inode);
    }
    return stack[stack.length - 1]!;
  }

  /** The type of a directory entry as its inode says it (for volumes without the filetype feature). */
  *typeOf(entry: DirEntry): Op<number> {
    if (entry.type !== DirentType.Unknown) return entry.type;
    return direntTypeOf((yield* this.inode(entry.inode)).mode);
  }
}

/** A path's components (empty ones and "." dropped); each at most MAX_NAME_BYTES bytes. */
export function components(path: string): string[] {
  const out = path.split('/').filter((c) => c !== '' && c !== '.');
  for (const c of out) if (encodeUtf8(c).length > MAX_NAME_BYTES) throw new VolumeError('ENAMETOOLONG', `a name of more than ${MAX_NAME_BYTES} bytes`);
  return out;
}

function describe(path: string): string {
  return `'${path.length > 60 ? `${path.slice(0, 57)}...` : path}'`;
}
