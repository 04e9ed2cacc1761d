// An ext2 image from a list of files, directories and symbolic links: what `mke2fs -d DIR` makes,
// for the tests and benchmarks that need disks of a size or content no committed image has (a
// file of 8 MiB of seeded bytes, holes, deep indirect blocks), built the same way on every run.
//
// Revision 0 or 1 (1: the filetype and sparse_super features, as mke2fs's ext2 defaults without
// resize_inode, dir_index and ext_attr), 1, 2 or 4 KiB blocks, 128-byte inodes. The layout is
// mke2fs's: block groups of 8 x block-size blocks, each with (in groups 0, 1 and the powers of
// 3, 5 and 7 under sparse_super; in every group in revision 0) a copy of the superblock and the
// group descriptors, then its block bitmap, inode bitmap and inode table; inode 2 is the root and
// 11 lost+found; data blocks follow in the order the files are given, each file's indirect blocks
// just before the data they map. Every count e2fsck checks is kept exact (`e2fsck -fn` finds
// nothing to fix: test/servers/ext2-format.test.ts runs it where e2fsprogs is installed).
// All timestamps are `time` (default 0), the UUID and volume name are given or fixed.

import { encodeUtf8 } from '../servers/text.ts';
import { DirentType, EXT2_MAGIC, FileMode, Incompat, RoCompat } from '../servers/ext2fs/ext2.ts';

export interface Ext2Entry {
  /** Absolute path ('/dir/name'); missing parent directories are made. */
  readonly path: string;
  /** A regular file's bytes. */
  readonly data?: Uint8Array;
  /** A directory (no data). */
  readonly directory?: boolean;
  /** A symbolic link's target. */
  readonly symlink?: string;
  /** Leave the file's all-zero blocks unallocated (holes). */
  readonly sparse?: boolean;
  /** Permission bits (default 0644 files, 0755 directories, 0777 links). */
  readonly permissions?: number;
}

export interface Ext2ImageOptions {
  readonly entries: readonly Ext2Entry[];
  readonly blockSize?: 1024 | 2048 | 4096;
  readonly revision?: 0 | 1;
  /** Total blocks (default: what the contents need, plus a quarter free). */
  readonly blocks?: number;
  /** Inodes at least (default: the entries' plus 16). */
  readonly inodes?: number;
  readonly time?: number;
  readonly volumeName?: string;
  /** 16 bytes. */
  readonly uuid?: Uint8Array;
}

const INODE_SIZE = 128;
const FIRST_INODE = 11;
const ROOT = 2;
const LOST_FOUND = 11;

interface Node {
  readonly name: string;
  readonly kind: 'file' | 'directory' | 'symlink';
  readonly permissions: number;
  readonly children: Node[];
  data: Uint8Array;
  sparse: boolean;
  target: string;
  inode: number;
  parent: Node | null;
  /** Disk blocks of its data (0: a hole), its indirect blocks' contents, its 512-byte block count. */
  blocks: number[];
  pointers: number[];
  sectors: number;
}

export function makeExt2Image(options: Ext2ImageOptions): Uint8Array {
  const bs = options.blockSize ?? 1024;
  const revision = options.revision ?? 1;
  const time = options.time ?? 0;
  if (![1024, 2048, 4096].includes(bs)) throw new RangeError(`block size ${bs}`);
  const filetype = revision === 1;
  const p = bs / 4;

  // The tree.
  const node = (name: string, kind: Node['kind'], permissions: number): Node => ({ name, kind, permissions, children: [], data: new Uint8Array(0), sparse: false, target: '', inode: 0, parent: null, blocks: [], pointers: [], sectors: 0 });
  const root = node('', 'directory', 0o755);
  const lostFound = node('lost+found', 'directory', 0o700);
  root.children.push(lostFound);
  lostFound.parent = root;
  const directoryAt = (parts: string[]): Node => {
    let at = root;
    for (const part of parts) {
      let next = at.children.find((c) => c.name === part);
      if (!next) {
        next = node(part, 'directory', 0o755);
        next.parent = at;
        at.children.push(next);
      }
      if (next.kind !== 'directory') throw new RangeError(`${part} is not a directory`);
      at = next;
    }
    return at;
  };
  for (const entry of options.entries) {
    const parts = entry.path.split('/').filter((c) => c !== '');
    if (parts.length === 0) throw new RangeError(`no name in '${entry.path}'`);
    if (entry.directory) {
      directoryAt(parts);
      continue;
    }
    const parent = directoryAt(parts.slice(0, -1));
    const name = parts[parts.length - 1]!;
    if (parent.children.some((c) => c.name === name)) throw new RangeError(`${entry.path} twice`);
    const made = node(name, entry.symlink !== undefined ? 'symlink' : 'file', entry.permissions ?? (entry.symlink !== undefined ? 0o777 : 0o644));
    made.parent = parent;
    if (entry.symlink !== undefined) made.target = entry.symlink;
    else {
      made.data = entry.data ?? new Uint8Array(0);
      made.sparse = entry.sparse === true;
    }
    parent.children.push(made);
  }
  // Inode numbers: root 2, lost+found 11, the rest from 12 in a breadth-first walk.
  const all: Node[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const n = queue.shift()!;
    all.push(n);
    queue.push(...n.children);
  }
  root.inode = ROOT;
  lostFound.inode = LOST_FOUND;
  let nextInode = FIRST_INODE + 1;
  for (const n of all) if (n.inode === 0) n.inode = nextInode++;

  // Directory contents.
  for (const n of all) if (n.kind === 'directory') n.data = directoryBytes(n, bs, filetype);
  // Fast symlinks (under 60 bytes) keep their target in the inode; others get a block.
  for (const n of all) if (n.kind === 'symlink' && encodeUtf8(n.target).length >= 60) n.data = encodeUtf8(n.target);

  // Blocks each node needs (data and indirect), to size the volume.
  const dataBlocks = (n: Node): number => (n.kind === 'symlink' && n.data.length === 0 ? 0 : Math.ceil(n.data.length / bs));
  const indirectFor = (count: number): number => {
    if (count <= 12) return 0;
    let rest = count - 12;
    let blocks = 1;
    if (rest <= p) return blocks;
    rest -= p;
    blocks += 1 + Math.ceil(Math.min(rest, p * p) / p);
    if (rest <= p * p) return blocks;
    rest -= p * p;
    return blocks + 1 + Math.ceil(rest / (p * p)) + Math.ceil(rest / p);
  };
  const contentBlocks = all.reduce((sum, n) => sum + dataBlocks(n) + indirectFor(dataBlocks(n)), 0);

  // The geometry.
  const bpg = 8 * bs;
  const firstDataBlock = bs === 1024 ? 1 : 0;
  const inodesWanted = Math.max(options.inodes ?? 0, all.length + 16, FIRST_INODE + 5);
  const perBlock = bs / INODE_SIZE;
  const geometry = (blocks: number): { groups: number; ipg: number; gdtBlocks: number; overhead: number } => {
    const groups = Math.ceil((blocks - firstDataBlock) / bpg);
    let ipg = Math.ceil(inodesWanted / groups);
    const unit = Math.max(8, perBlock);
    ipg = Math.ceil(ipg / unit) * unit;
    const gdtBlocks = Math.ceil((groups * 32) / bs);
    let overhead = 0;
    for (let g = 0; g < groups; g++) overhead += (hasSuper(g, revision) ? 1 + gdtBlocks : 0) + 2 + (ipg * INODE_SIZE) / bs;
    return { groups, ipg, gdtBlocks, overhead };
  };
  let blocksCount = options.blocks ?? 0;
  if (!blocksCount) {
    blocksCount = firstDataBlock + 64;
    for (let i = 0; i < 8; i++) blocksCount = Math.max(blocksCount, firstDataBlock + Math.ceil((geometry(blocksCount).overhead + contentBlocks) * 1.25) + 16);
  }
  const { groups, ipg, gdtBlocks } = geometry(blocksCount);
  const itBlocks = (ipg * INODE_SIZE) / bs;
  const groupStart = (g: number): number => firstDataBlock + g * bpg;
  const groupBlocks = (g: number): number => Math.min(bpg, blocksCount - groupStart(g));
  const layout = Array.from({ length: groups }, (_, g) => {
    const start = groupStart(g);
    const bb = start + (hasSuper(g, revision) ? 1 + gdtBlocks : 0);
    return { start, bb, ib: bb + 1, it: bb + 2, data: bb + 2 + itBlocks };
  });
  for (let g = 0; g < groups; g++) if (layout[g]!.data > groupStart(g) + groupBlocks(g)) throw new RangeError(`the last block group is too small for its metadata (${blocksCount} blocks)`);

  const used = new Uint8Array(blocksCount);
  for (let g = 0; g < groups; g++) for (let b = layout[g]!.start; b < layout[g]!.data; b++) used[b] = 1;
  let cursor = layout[0]!.data;
  const allocate = (): number => {
    while (cursor < blocksCount && used[cursor]) cursor++;
    if (cursor >= blocksCount) throw new RangeError(`${blocksCount} blocks are too few for the contents`);
    used[cursor] = 1;
    return cursor++;
  };

  // Allocation, file by file: each indirect block just before the first data block it maps.
  const indirect = new Map<number, Uint32Array>();
  const pointerBlock = (): number => {
    const b = allocate();
    indirect.set(b, new Uint32Array(p));
    return b;
  };
  for (const n of all) {
    const count = dataBlocks(n);
    const pointers = new Array<number>(15).fill(0);
    let sectors = 0;
    for (let i = 0; i < count; i++) {
      const chunk = n.data.subarray(i * bs, (i + 1) * bs);
      if (n.sparse && chunk.every((b) => b === 0)) {
        n.blocks.push(0);
        continue;
      }
      let slot: { table: Uint32Array; index: number } | null = null;
      if (i < 12) {
        /* direct */
      } else if (i < 12 + p) {
        if (!pointers[12]) {
          pointers[12] = pointerBlock();
          sectors += bs / 512;
        }
        slot = { table: indirect.get(pointers[12]!)!, index: i - 12 };
      } else if (i < 12 + p + p * p) {
        const j = i - 12 - p;
        if (!pointers[13]) {
          pointers[13] = pointerBlock();
          sectors += bs / 512;
        }
        const top = indirect.get(pointers[13]!)!;
        if (!top[Math.floor(j / p)]) {
          top[Math.floor(j / p)] = pointerBlock();
          sectors += bs / 512;
        }
        slot = { table: indirect.get(top[Math.floor(j / p)]!)!, index: j % p };
      } else {
        const j = i - 12 - p - p * p;
        if (!pointers[14]) {
          pointers[14] = pointerBlock();
          sectors += bs / 512;
        }
        const top = indirect.get(pointers[14]!)!;
        const a = Math.floor(j / (p * p));
        if (!top[a]) {
          top[a] = pointerBlock();
          sectors += bs / 512;
        }
        const middle = indirect.get(top[a]!)!;
        const b = Math.floor(j / p) % p;
        if (!middle[b]) {
          middle[b] = pointerBlock();
          sectors += bs / 512;
        }
        slot = { table: indirect.get(middle[b]!)!, index: j % p };
      }
      const block = allocate();
      if (slot) slot.table[slot.index] = block;
      else pointers[i] = block;
      n.blocks.push(block);
      sectors += bs / 512;
    }
    n.pointers = pointers;
    n.sectors = sectors;
  }

  // The image.
  const image = new Uint8Array(blocksCount * bs);
  const view = new DataView(image.buffer);
  const put32 = (at: number, v: number): void => view.setUint32(at, v >>> 0, true);
  const put16 = (at: number, v: number): void => view.setUint16(at, v & 0xffff, true);
  for (const n of all) n.blocks.forEach((b, i) => b && image.set(n.data.subarray(i * bs, (i + 1) * bs), b * bs));
  for (const [b, table] of indirect) for (let i = 0; i < p; i++) put32(b * bs + 4 * i, table[i]!);

  // Inodes.
  const inodesCount = ipg * groups;
  const inodeUsed = new Uint8Array(inodesCount + 1);
  for (let i = 1; i < FIRST_INODE; i++) inodeUsed[i] = 1;
  const inodeAt = (number: number): number => {
    const g = Math.floor((number - 1) / ipg);
    return layout[g]!.it * bs + ((number - 1) % ipg) * INODE_SIZE;
  };
  const directoriesIn = new Array<number>(groups).fill(0);
  for (const n of all) {
    inodeUsed[n.inode] = 1;
    const at = inodeAt(n.inode);
    const type = n.kind === 'directory' ? FileMode.Directory : n.kind === 'symlink' ? FileMode.Symlink : FileMode.Regular;
    const size = n.kind === 'symlink' ? encodeUtf8(n.target).length : n.data.length;
    put16(at, type | n.permissions);
    put32(at + 4, size % 2 ** 32);
    put32(at + 8, time);
    put32(at + 12, time);
    put32(at + 16, time);
    put16(at + 26, n.kind === 'directory' ? 2 + n.children.filter((c) => c.kind === 'directory').length : 1);
    put32(at + 28, n.sectors);
    if (n.kind === 'symlink' && n.data.length === 0) image.set(encodeUtf8(n.target), at + 40);
    else n.pointers.forEach((b, i) => put32(at + 40 + 4 * i, b));
    if (revision === 1 && n.kind === 'file') put32(at + 108, Math.floor(size / 2 ** 32));
    if (n.kind === 'directory') directoriesIn[Math.floor((n.inode - 1) / ipg)]!++;
  }

  // Bitmaps and group descriptors.
  let freeBlocks = 0;
  let freeInodes = 0;
  const descriptors = new Uint8Array(gdtBlocks * bs);
  const dview = new DataView(descriptors.buffer);
  for (let g = 0; g < groups; g++) {
    const { start, bb, ib, it } = layout[g]!;
    const count = groupBlocks(g);
    let groupFree = 0;
    for (let i = 0; i < 8 * bs; i++) {
      const set = i >= count || used[start + i] === 1;
      if (set) image[bb * bs + (i >> 3)]! |= 1 << (i & 7);
      else groupFree++;
    }
    let inodesFree = 0;
    for (let i = 0; i < 8 * bs; i++) {
      const number = g * ipg + i + 1;
      const set = i >= ipg || inodeUsed[number] === 1;
      if (set) image[ib * bs + (i >> 3)]! |= 1 << (i & 7);
      else inodesFree++;
    }
    freeBlocks += groupFree;
    freeInodes += inodesFree;
    const at = g * 32;
    dview.setUint32(at, bb, true);
    dview.setUint32(at + 4, ib, true);
    dview.setUint32(at + 8, it, true);
    dview.setUint16(at + 12, groupFree, true);
    dview.setUint16(at + 14, inodesFree, true);
    dview.setUint16(at + 16, directoriesIn[g]!, true);
  }

  // Superblocks (the primary and its copies).
  const superblock = (group: number): Uint8Array => {
    const sb = new Uint8Array(1024);
    const v = new DataView(sb.buffer);
    const w32 = (at: number, x: number): void => v.setUint32(at, x >>> 0, true);
    const w16 = (at: number, x: number): void => v.setUint16(at, x & 0xffff, true);
    w32(0, inodesCount);
    w32(4, blocksCount);
    w32(8, 0);
    w32(12, freeBlocks);
    w32(16, freeInodes);
    w32(20, firstDataBlock);
    w32(24, Math.log2(bs) - 10);
    w32(28, Math.log2(bs) - 10);
    w32(32, bpg);
    w32(36, bpg);
    w32(40, ipg);
    w32(44, 0);
    w32(48, time);
    w16(52, 0);
    w16(54, 0xffff);
    w16(56, EXT2_MAGIC);
    w16(58, 1);
    w16(60, 1);
    w32(64, time);
    w32(76, revision);
    if (revision === 1) {
      w32(84, FIRST_INODE);
      w16(88, INODE_SIZE);
      w16(90, group);
      w32(92, 0);
      w32(96, Incompat.Filetype);
      w32(100, RoCompat.SparseSuper);
      sb.set(options.uuid ?? new Uint8Array([0x6c, 0x34, 0x68, 0x75, 0x72, 0x64, 0x40, 0x00, 0x80, 0x00, 0x65, 0x78, 0x74, 0x32, 0x66, 0x73]), 104);
      sb.set(encodeUtf8(options.volumeName ?? '').subarray(0, 16), 120);
      w32(0x108, time);
    }
    return sb;
  };
  for (let g = 0; g < groups; g++) {
    if (!hasSuper(g, revision)) continue;
    const start = layout[g]!.start;
    image.set(superblock(g), g === 0 ? 1024 : start * bs);
    image.set(descriptors, (start + 1) * bs);
  }
  return image;
}

/** Does group `g` hold a copy of the superblock (sparse_super in revision 1: 0, 1 and powers of 3, 5, 7)? */
function hasSuper(g: number, revision: number): boolean {
  if (revision === 0 || g <= 1) return true;
  for (const base of [3, 5, 7]) {
    let n = base;
    while (n < g) n *= base;
    if (n === g) return true;
  }
  return false;
}

/** A directory's blocks: ".", "..", then its children, no entry crossing a block. */
function directoryBytes(n: Node, bs: number, filetype: boolean): Uint8Array {
  const entries: { inode: number; name: Uint8Array; type: number }[] = [
    { inode: n.inode, name: encodeUtf8('.'), type: DirentType.Directory },
    { inode: (n.parent ?? n).inode, name: encodeUtf8('..'), type: DirentType.Directory },
    ...n.children.map((c) => ({ inode: c.inode, name: encodeUtf8(c.name), type: c.kind === 'directory' ? DirentType.Directory : c.kind === 'symlink' ? DirentType.Symlink : DirentType.Regular })),
  ];
  const blocks: Uint8Array[] = [];
  let block = new Uint8Array(bs);
  let at = 0;
  let last = -1;
  for (const e of entries) {
    const length = Math.ceil((8 + e.name.length) / 4) * 4;
    if (at + length > bs) {
      // Close the block: its last entry takes the rest.
      new DataView(block.buffer).setUint16(last + 4, bs - last, true);
      blocks.push(block);
      block = new Uint8Array(bs);
      at = 0;
    }
    const v = new DataView(block.buffer);
    v.setUint32(at, e.inode, true);
    v.setUint16(at + 4, length, true);
    block[at + 6] = e.name.length;
    block[at + 7] = filetype ? e.type : 0;
    block.set(e.name, at + 8);
    last = at;
    at += length;
  }
  new DataView(block.buffer).setUint16(last + 4, bs - last, true);
  blocks.push(block);
  const out = new Uint8Array(blocks.length * bs);
  blocks.forEach((b, i) => out.set(b, i * bs));
  return out;
}
