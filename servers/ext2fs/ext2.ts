// The ext2 on-disk format: the superblock, group descriptors, inodes and directory entries, read
// from bytes (little-endian). Plain functions, no I/O: the volume (volume.ts) reads the blocks,
// and tools/ext2-image.ts writes the same structures.
//
// What is read (the layout of the Linux kernel's ext2, revisions 0 and 1, as GNU Hurd's ext2fs
// translator serves it; e2fsprogs' lib/ext2fs/ext2_fs.h has the same fields):
//
//   superblock (at byte 1024, 1024 bytes)
//     +0 inodes count      +4 blocks count      +20 first data block   +24 log2(block size) - 10
//     +28 log2(frag size) - 10                  +32 blocks per group   +40 inodes per group
//     +56 magic 0xEF53 (u16)                    +58 state (u16)        +76 revision level
//     revision 1: +84 first inode   +88 inode size (u16)  +92 compatible  +96 incompatible
//                 +100 read-only compatible features       +104 UUID (16) +120 volume name (16)
//   group descriptor (32 bytes each, in the blocks after the superblock's)
//     +0 block bitmap  +4 inode bitmap  +8 inode table  +12 free blocks (u16)
//     +14 free inodes (u16)  +16 directories (u16)
//   inode (128 bytes in revision 0, the superblock's inode size in revision 1)
//     +0 mode (u16)  +2 uid (u16)  +4 size  +8 atime  +12 ctime  +16 mtime  +20 dtime
//     +24 gid (u16)  +26 links (u16)  +28 blocks (512-byte units)  +32 flags
//     +40 block[15]: 12 direct, single, double and triple indirect   +100 generation
//     +104 file ACL  +108 size, high 32 bits (regular files, large_file)
//   directory entry: +0 inode  +4 record length (u16)  +6 name length (u8; u16 in revision 0
//     without the filetype feature)  +7 file type (filetype feature)  +8 name
//
// Incompatible features supported: filetype only. A volume with any other (compression, a
// journal to recover, meta_bg, extents, 64-bit, flex_bg, ...) is refused: reading it as plain
// ext2 would be wrong. Compatible and read-only-compatible features change nothing read here
// (sparse_super and resize_inode only place backups; large_file is the size's high word; an
// htree directory's index blocks read as empty entries).

export const EXT2_MAGIC = 0xef53;
export const SUPERBLOCK_OFFSET = 1024;
export const SUPERBLOCK_BYTES = 1024;
export const ROOT_INODE = 2;
export const DIRECT_BLOCKS = 12;
export const GROUP_DESCRIPTOR_BYTES = 32;

export const Incompat = { Compression: 0x1, Filetype: 0x2, Recover: 0x4, JournalDevice: 0x8, MetaBg: 0x10, Extents: 0x40, Bit64: 0x80, Mmp: 0x100, FlexBg: 0x200 } as const;
export const RoCompat = { SparseSuper: 0x1, LargeFile: 0x2, BtreeDir: 0x4 } as const;
const SUPPORTED_INCOMPAT = Incompat.Filetype;
/** i_flags: the inode's blocks are an extent tree (ext4), not a block map. */
export const EXTENTS_FLAG = 0x80000;

/** The file type bits of a mode, and the POSIX names of the types. */
export const S_IFMT = 0xf000;
export const FileMode = { Fifo: 0x1000, CharDevice: 0x2000, Directory: 0x4000, BlockDevice: 0x6000, Regular: 0x8000, Symlink: 0xa000, Socket: 0xc000 } as const;
/** A directory entry's file type (filetype feature): 0 unknown, 1 regular, 2 directory, 3 char device, 4 block device, 5 fifo, 6 socket, 7 symlink. */
export const DirentType = { Unknown: 0, Regular: 1, Directory: 2, CharDevice: 3, BlockDevice: 4, Fifo: 5, Socket: 6, Symlink: 7 } as const;

export interface Superblock {
  readonly inodesCount: number;
  readonly blocksCount: number;
  readonly freeBlocks: number;
  readonly freeInodes: number;
  readonly firstDataBlock: number;
  readonly blockSize: number;
  readonly blocksPerGroup: number;
  readonly inodesPerGroup: number;
  readonly state: number;
  readonly revision: number;
  readonly firstInode: number;
  readonly inodeSize: number;
  readonly compat: number;
  readonly incompat: number;
  readonly roCompat: number;
  readonly volumeName: string;
  /** Block groups. */
  readonly groups: number;
}

export interface GroupDescriptor {
  readonly blockBitmap: number;
  readonly inodeBitmap: number;
  readonly inodeTable: number;
  readonly freeBlocks: number;
  readonly freeInodes: number;
  readonly directories: number;
}

export interface Inode {
  readonly number: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes (the high word included for regular files). */
  readonly size: number;
  readonly atime: number;
  readonly ctime: number;
  readonly mtime: number;
  readonly links: number;
  /** 512-byte units the inode's blocks take (data and indirect blocks). */
  readonly blocks: number;
  readonly flags: number;
  /** The 15 block pointers (12 direct, single, double, triple indirect). */
  readonly block: readonly number[];
  /** The extended-attribute block (0: none). */
  readonly fileAcl: number;
}

export interface DirEntry {
  readonly inode: number;
  readonly name: string;
  /** DirentType (Unknown when the volume has no filetype feature). */
  readonly type: number;
}

/** A malformed structure: the message says what. */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

export function u16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

export function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

function ascii(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0) break;
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '?';
  }
  return out;
}

/** The superblock in `bytes` (its 1024 bytes); throws FormatError when it is not one this reader can serve. */
export function parseSuperblock(bytes: Uint8Array): Superblock {
  if (bytes.length < SUPERBLOCK_BYTES) throw new FormatError('the superblock is short');
  if (u16(bytes, 56) !== EXT2_MAGIC) throw new FormatError(`no ext2 superblock (magic 0x${u16(bytes, 56).toString(16)}, not 0xef53)`);
  const logBlock = u32(bytes, 24);
  if (logBlock > 2) throw new FormatError(`block size 2^${10 + logBlock}: 1, 2 or 4 KiB is supported`);
  const blockSize = 1024 << logBlock;
  if (u32(bytes, 28) !== logBlock) throw new FormatError('fragments smaller than blocks are not supported');
  const revision = u32(bytes, 76);
  if (revision > 1) throw new FormatError(`revision ${revision}: revisions 0 and 1 are supported`);
  const inodesCount = u32(bytes, 0);
  const blocksCount = u32(bytes, 4);
  const firstDataBlock = u32(bytes, 20);
  const blocksPerGroup = u32(bytes, 32);
  const inodesPerGroup = u32(bytes, 40);
  const inodeSize = revision === 0 ? 128 : u16(bytes, 88);
  const firstInode = revision === 0 ? 11 : u32(bytes, 84);
  if (blocksPerGroup === 0 || blocksPerGroup > 8 * blockSize || inodesPerGroup === 0 || inodesPerGroup > 8 * blockSize) throw new FormatError(`${blocksPerGroup} blocks and ${inodesPerGroup} inodes per group`);
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) throw new FormatError(`an inode size of ${inodeSize} bytes`);
  if (firstDataBlock !== (blockSize === 1024 ? 1 : 0)) throw new FormatError(`first data block ${firstDataBlock} with ${blockSize}-byte blocks`);
  if (blocksCount <= firstDataBlock) throw new FormatError(`${blocksCount} blocks`);
  const incompat = revision === 0 ? 0 : u32(bytes, 96);
  if (incompat & ~SUPPORTED_INCOMPAT) throw new FormatError(`incompatible features 0x${(incompat & ~SUPPORTED_INCOMPAT).toString(16)} (only filetype is supported: no journal recovery, extents, meta_bg, 64bit or flex_bg)`);
  const groups = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (Math.ceil(inodesCount / inodesPerGroup) !== groups) throw new FormatError(`${inodesCount} inodes in ${groups} groups of ${inodesPerGroup}`);
  return {
    inodesCount,
    blocksCount,
    freeBlocks: u32(bytes, 12),
    freeInodes: u32(bytes, 16),
    firstDataBlock,
    blockSize,
    blocksPerGroup,
    inodesPerGroup,
    state: u16(bytes, 58),
    revision,
    firstInode,
    inodeSize,
    compat: revision === 0 ? 0 : u32(bytes, 92),
    incompat,
    roCompat: revision === 0 ? 0 : u32(bytes, 100),
    volumeName: revision === 0 ? '' : ascii(bytes.subarray(120, 136)),
    groups,
  };
}

/** The group descriptor table's first block. */
export function groupDescriptorBlock(sb: Superblock): number {
  return sb.firstDataBlock + 1;
}

/** The `count` group descriptors in `bytes` (the table's blocks, in order). */
export function parseGroupDescriptors(bytes: Uint8Array, sb: Superblock): GroupDescriptor[] {
  const out: GroupDescriptor[] = [];
  for (let g = 0; g < sb.groups; g++) {
    const at = g * GROUP_DESCRIPTOR_BYTES;
    const d = { blockBitmap: u32(bytes, at), inodeBitmap: u32(bytes, at + 4), inodeTable: u32(bytes, at + 8), freeBlocks: u16(bytes, at + 12), freeInodes: u16(bytes, at + 14), directories: u16(bytes, at + 16) };
    const tableBlocks = Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize);
    if (d.inodeTable < sb.firstDataBlock || d.inodeTable + tableBlocks > sb.blocksCount) throw new FormatError(`group ${g}'s inode table at block ${d.inodeTable} is outside the volume`);
    out.push(d);
  }
  return out;
}

/** Where inode `number` is: the block holding it and its byte offset there. */
export function inodeLocation(sb: Superblock, groups: readonly GroupDescriptor[], number: number): { block: number; offset: number } {
  if (!Number.isInteger(number) || number < 1 || number > sb.inodesCount) throw new FormatError(`no inode ${number} (the volume has ${sb.inodesCount})`);
  const index = (number - 1) % sb.inodesPerGroup;
  const group = groups[Math.floor((number - 1) / sb.inodesPerGroup)]!;
  const byte = index * sb.inodeSize;
  return { block: group.inodeTable + Math.floor(byte / sb.blockSize), offset: byte % sb.blockSize };
}

/** The inode at `offset` in `bytes` (a block of the inode table). */
export function parseInode(bytes: Uint8Array, offset: number, number: number, sb: Superblock): Inode {
  const mode = u16(bytes, offset);
  const low = u32(bytes, offset + 4);
  const high = sb.revision >= 1 && (mode & S_IFMT) === FileMode.Regular ? u32(bytes, offset + 108) : 0;
  const block: number[] = [];
  for (let i = 0; i < 15; i++) block.push(u32(bytes, offset + 40 + 4 * i));
  return {
    number,
    mode,
    uid: u16(bytes, offset + 2),
    gid: u16(bytes, offset + 24),
    size: high * 2 ** 32 + low,
    atime: u32(bytes, offset + 8),
    ctime: u32(bytes, offset + 12),
    mtime: u32(bytes, offset + 16),
    links: u16(bytes, offset + 26),
    blocks: u32(bytes, offset + 28),
    flags: u32(bytes, offset + 32),
    block,
    fileAcl: u32(bytes, offset + 104),
  };
}

/** The raw bytes of the block-pointer area (a fast symlink keeps its target there). */
export function inlineBytes(inode: Inode): Uint8Array {
  const out = new Uint8Array(60);
  inode.block.forEach((word, i) => {
    out[4 * i] = word & 0xff;
    out[4 * i + 1] = (word >>> 8) & 0xff;
    out[4 * i + 2] = (word >>> 16) & 0xff;
    out[4 * i + 3] = word >>> 24;
  });
  return out;
}

/** Is the symlink's target in the inode itself (a fast symlink: no data block but an attribute block)? */
export function isFastSymlink(inode: Inode, blockSize: number): boolean {
  return (inode.mode & S_IFMT) === FileMode.Symlink && inode.blocks - (inode.fileAcl !== 0 ? blockSize / 512 : 0) === 0;
}

/**
 * The entries of one directory block (unused entries, inode 0, left out). Throws FormatError
 * for a malformed entry: a record length that is not a multiple of 4, too short for its name,
 * or running past the block.
 */
export function parseDirectoryBlock(bytes: Uint8Array, filetype: boolean, decode: (name: Uint8Array) => string): DirEntry[] {
  const out: DirEntry[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (at + 8 > bytes.length) throw new FormatError(`a directory entry at byte ${at} runs past its block`);
    const inode = u32(bytes, at);
    const length = u16(bytes, at + 4);
    const nameLength = filetype ? bytes[at + 6]! : u16(bytes, at + 6);
    if (length < 8 || length % 4 !== 0 || at + length > bytes.length || (inode !== 0 && 8 + nameLength > length)) {
      throw new FormatError(`a malformed directory entry at byte ${at} (record length ${length}, name length ${nameLength})`);
    }
    if (inode !== 0 && nameLength > 0) out.push({ inode, name: decode(bytes.subarray(at + 8, at + 8 + nameLength)), type: filetype ? bytes[at + 7]! : DirentType.Unknown });
    at += length;
  }
  return out;
}

/** The directory-entry type of a mode. */
export function direntTypeOf(mode: number): number {
  switch (mode & S_IFMT) {
    case FileMode.Regular:
      return DirentType.Regular;
    case FileMode.Directory:
      return DirentType.Directory;
    case FileMode.Symlink:
      return DirentType.Symlink;
    case FileMode.CharDevice:
      return DirentType.CharDevice;
    case FileMode.BlockDevice:
      return DirentType.BlockDevice;
    case FileMode.Fifo:
      return DirentType.Fifo;
    case FileMode.Socket:
      return DirentType.Socket;
    default:
      return DirentType.Unknown;
  }
}
