// ext2fs: the file server. It serves the files of the ext2 volume on the machine's disk (through
// the deva driver) to other tasks, moving data in containers the clients supply, as 002's
// "reading from a file" has it:
//
//   2. fs_read(file, offset, length, container): the client shared its container with us
//   3. container_grant_access(container, driver) => version: we share it with the driver (once
//      per container) and save its version
//   4. device_read(container, block list): the driver reads the file's blocks into it
//      (5-7 are the driver's: lock_physical with unmap, DMA, unlock; it says it made 2
//      operations)
//   8. container_copy_out(container, page cache, private) => version: a private logical copy
//      (copy-on-write) of the frames into our page cache; the version must be the saved one
//      plus the operations we and the driver made, else someone else touched the container: the
//      copy is dropped, nothing enters the cache, and the read fails with EIO
//   9. success, with the number of bytes
//
// A read whose pages are all in the cache is a copy-on-write copy from the cache into the
// client's container: no disk access. Pages with holes (or past the end of the file) get a
// copy of a zero frame before the driver fills what the disk has of them.
//
// Writes go the other way (fs_write: the driver writes the client's container to the blocks
// the file already has; no block allocation, so a write past the file's size or into a hole is
// refused with ENOSPC), and drop the pages they change from the cache.
//
// Metadata (superblock, group descriptors, inodes, indirect blocks, directories) comes through
// the same driver into a buffer container of our own, with the same version check, and is kept
// parsed in host memory by the volume (volume.ts).
//
// The page cache's frames are a container of our own, charged to us under a guarantee we
// negotiate with the policy server at start (cache-pages plus the buffers); page-cache.ts decides
// which pages it holds (least recently used go first, at `cache-pages`, or when physmem asks
// for frames back: we register our thread for reclaim). Each step is a trace point
// (`l4hurd boot --trace user`).
//
// ext2fs calls physmem, the task server and the driver; none of them calls it back.
//
// Command line: cache-pages=N (default 2048, 8 MiB), metadata-blocks=N (raw metadata blocks
// kept: inode tables, indirect blocks; default 512), device=NAME (the driver's module name,
// default deva), quiet (no boot line).

import { TCR_MY_GLOBAL_ID, type Op, type ProgramEnv } from '../../libl4/abi.ts';
import { Rights } from '../../libl4/fpage.ts';
import { readTcr, type OutgoingMessage } from '../../libl4/registers.ts';
import type { ServerRequest } from '../../libl4/server.ts';
import * as deva from '../deva/client.ts';
import { DevaError, RUNS_PER_REQUEST, type Run } from '../deva/client.ts';
import { Refusal, refuseUnless, ServerError } from '../errno.ts';
import * as physmem from '../physmem/client.ts';
import * as policy from '../policy/client.ts';
import { GATHER_PER_REQUEST } from '../physmem/protocol.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';
import { ServerLoop } from '../server-loop.ts';
import { startupOf } from '../startup.ts';
import { counted as plural, decodeUtf8, encodeUtf8, packWords, unpackWords } from '../text.ts';
import { EXTENTS_FLAG, FileMode, S_IFMT, type Inode } from './ext2.ts';
import { PageCache, slotRuns } from './page-cache.ts';
import { FS_STATS_KEYS, FsOp, NAME_BYTES_PER_REPLY, OpenFlag, PAGE, PATH_BYTES, type FsStats } from './protocol.ts';
import { Volume, VolumeError, type ByteRange } from './volume.ts';

const SECTOR = 512;
/** The metadata buffer: 64 frames, mapped read-only at METADATA_WINDOW after each transfer. */
const METADATA_FRAMES = 64;
const METADATA_WINDOW = 0x10000000;
/** Frames of our own memory (code, data, stacks) the guarantee we ask for counts besides the cache. */
const OWN_FRAMES = 64;
/** Files one task may have open. */
const FILES_PER_TASK = 64;
/** The file server's own bookkeeping per request, in cycles (an estimate, as physmem's). */
export const EXT2FS_REQUEST_CYCLES = 300;

interface OpenFile {
  readonly task: number;
  readonly inode: Inode;
  readonly writable: boolean;
}

export default program(function* ext2fs(env: ProgramEnv, args: string): Op<number> {
  return yield* fileServer(env, args);
});

export function* fileServer(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const capacity = numberOption(options, 'cache-pages', 2048);
  const deviceName = options.device ?? 'deva';
  const startup = yield* startupOf(env);
  const self = yield* readTcr(env, TCR_MY_GLOBAL_ID);
  const driver = yield* deva.find(env, deviceName);
  if (!driver) {
    yield* print(env, `ext2fs: no disk driver '${deviceName}' in this image\n`);
    return 1;
  }
  const driverTask = driver & 0x3fff;
  // The cache's frames are under our own guarantee: the cache, the metadata buffer, the zero
  // frame and our own memory. A smaller grant makes a smaller cache.
  let pages = Math.min(Math.max(1, capacity), 1 << 19);
  let granted = 0;
  try {
    granted = yield* policy.negotiate(env, pages + METADATA_FRAMES + 1 + OWN_FRAMES);
  } catch (error) {
    if (!(error instanceof ServerError)) throw error;
  }
  if (granted > 0) pages = Math.max(16, Math.min(pages, granted - METADATA_FRAMES - 1 - OWN_FRAMES));
  const cache = new PageCache(pages);
  const stats: { -readonly [K in keyof FsStats]: number } = { reads: 0, cacheHits: 0, cacheMisses: 0, dataTransfers: 0, metadataTransfers: 0, versionFailures: 0, evictions: 0, cachedPages: 0, writes: 0, ioErrors: 0 };

  // Our containers: the metadata buffer (shared with the driver), the page cache, a zero frame.
  const metadata = yield* physmem.create(env, { frames: METADATA_FRAMES });
  const metadataShare = yield* physmem.shareWithVersion(env, metadata, driverTask);
  let metadataVersion = metadataShare.version;
  const cacheContainer = yield* physmem.create(env);
  const zero = yield* physmem.create(env, { frames: 1 });

  /** Reads byte ranges of the disk through the metadata buffer, with the version check. */
  function* readMetadata(ranges: readonly ByteRange[]): Op<Uint8Array[]> {
    const out = ranges.map((r) => new Uint8Array(r.length));
    const capacityBytes = METADATA_FRAMES * PAGE;
    let pieces: { index: number; from: number; at: number; length: number }[] = [];
    let used = 0;
    function* flush(): Op<void> {
      if (pieces.length === 0) return;
      const runs: Run[] = pieces.map((p) => ({ sector: (ranges[p.index]!.offset + p.from) / SECTOR, sectors: p.length / SECTOR, offset: p.at }));
      let operations: number;
      yield* env.trace(`ext2fs: metadata: device_read(container ${metadataShare.handle}, ${plural(runs.length, 'run')})`);
      try {
        operations = (yield* deva.read(env, driver, metadataShare.handle, runs)).operations;
      } catch (error) {
        if (!(error instanceof DevaError)) throw error;
        metadataVersion = (yield* physmem.info(env, metadata)).version;
        throw new VolumeError('EIO', `the disk failed to read metadata (${error.code})`);
      }
      stats.metadataTransfers++;
      const expected = metadataVersion + operations + 1;
      metadataVersion = yield* physmem.map(env, metadata, 0, Math.ceil(used / PAGE), METADATA_WINDOW, Rights.Read);
      if (metadataVersion !== expected) throw new VolumeError('EIO', `the metadata buffer's version is ${metadataVersion}, not ${expected}: someone else touched it`);
      for (const p of pieces) out[p.index]!.set(yield* env.readBytes(METADATA_WINDOW + p.at, p.length), p.from);
      pieces = [];
      used = 0;
    }
    for (let index = 0; index < ranges.length; index++) {
      const range = ranges[index]!;
      for (let from = 0; from < range.length; ) {
        if (used === capacityBytes || pieces.length === RUNS_PER_REQUEST) yield* flush();
        const length = Math.min(range.length - from, capacityBytes - used);
        pieces.push({ index, from, at: used, length });
        used += length;
        from += length;
      }
    }
    yield* flush();
    return out;
  }

  let volume: Volume;
  try {
    volume = yield* Volume.mount({ read: readMetadata }, { metadataBlocks: Math.max(1, numberOption(options, 'metadata-blocks', 512)) });
  } catch (error) {
    if (!(error instanceof VolumeError)) throw error;
    yield* print(env, `ext2fs: cannot mount the disk: ${error.message}\n`);
    return 1;
  }
  const sb = volume.sb;
  const bs = sb.blockSize;
  if (!('quiet' in options)) {
    yield* print(env, `ext2fs: ext2 revision ${sb.revision}, ${sb.blocksCount} blocks of ${bs} bytes, ${sb.inodesCount} inodes${sb.volumeName ? `, volume '${sb.volumeName}'` : ''}; page cache of ${cache.capacity} pages, ${granted} frames guaranteed\n`);
  }
  yield* physmem.onReclaim(env, self);

  const files = new Map<number, OpenFile>();
  let nextFile = 1;
  /** The driver's handle for each client container we were given: `task:handle` -> handle. */
  const driverHandles = new Map<string, number>();
  /** Client containers whose giver was checked: `task:handle`. */
  const checked = new Set<string>();

  function fileOf(task: number, file: number): OpenFile {
    const open = files.get(file);
    refuseUnless(open !== undefined && open.task === task, 'EBADF', `task ${task} has no file ${file}`);
    return open;
  }

  /** The client's container, checked: the caller gave it to us. Resolves to its info. */
  function* clientContainer(task: number, handle: number): Op<physmem.ContainerInfo> {
    let info: physmem.ContainerInfo;
    try {
      info = yield* physmem.info(env, handle);
    } catch (error) {
      if (error instanceof ServerError) throw new Refusal('EBADF', `no container ${handle}`);
      throw error;
    }
    refuseUnless(info.giver === task, 'EPERM', `task ${task} did not give the file server container ${handle}`);
    return info;
  }

  /** Step 3: the driver's handle for the container, and the version saved. */
  function* shareWithDriver(task: number, handle: number, info: physmem.ContainerInfo, verb: string): Op<{ handle: number; version: number }> {
    const key = `${task}:${handle}`;
    const known = driverHandles.get(key);
    if (known !== undefined) {
      yield* env.trace(`002 step 3: ext2fs: container ${handle} is shared with ${deviceName} already (its handle ${known}); version ${info.version} saved`);
      return { handle: known, version: info.version };
    }
    const shared = yield* physmem.shareWithVersion(env, handle, driverTask);
    driverHandles.set(key, shared.handle);
    yield* env.trace(`002 step 3: ext2fs: container_grant_access(container ${handle}, ${deviceName}) => version ${shared.version} saved (${verb})`);
    return shared;
  }

  /** Deallocates cache slots (their pages were dropped from the books). */
  function* freeSlots(slots: readonly number[]): Op<void> {
    for (const run of slotRuns(slots)) yield* physmem.deallocate(env, cacheContainer, run.start, run.count);
  }

  function* evict(count: number): Op<void> {
    const gone = cache.evict(count);
    if (gone.length === 0) return;
    stats.evictions += gone.length;
    yield* freeSlots(gone.map((g) => g.slot));
  }

  /** The disk blocks of the file's page `page` (0: a hole, or past the end of the file). */
  function* pageBlocks(inode: Inode, page: number): Op<number[]> {
    const perPage = PAGE / bs;
    const fileBlocks = Math.ceil(inode.size / bs);
    const first = page * perPage;
    const count = Math.max(0, Math.min(perPage, fileBlocks - first));
    const blocks = count > 0 ? yield* volume.fileBlocks(inode, first, count) : [];
    for (const b of blocks) if (b !== 0 && (b < sb.firstDataBlock || b >= sb.blocksCount)) throw new VolumeError('EIO', `inode ${inode.number} points at block ${b}, outside the volume: the volume is corrupt`);
    while (blocks.length < perPage) blocks.push(0);
    return blocks;
  }

  /** Adds a block's run, merged with the last one when both the disk and the container continue it. */
  function addRun(runs: Run[], block: number, sectors: number, offset: number): void {
    const sector = (block * bs) / SECTOR;
    const last = runs[runs.length - 1];
    if (last && last.sector + last.sectors === sector && last.offset + last.sectors * SECTOR === offset) runs[runs.length - 1] = { ...last, sectors: last.sectors + sectors };
    else runs.push({ sector, sectors, offset });
  }

  /** The driver moves the runs (in requests of RUNS_PER_REQUEST): the operations it made. Throws Refusal(EIO) on a disk error. */
  function* transfer(kind: 'read' | 'write', handle: number, runs: readonly Run[], counted: { operations: number }): Op<void> {
    for (let at = 0; at < runs.length; at += RUNS_PER_REQUEST) {
      try {
        const t = yield* (kind === 'read' ? deva.read : deva.write)(env, driver, handle, runs.slice(at, at + RUNS_PER_REQUEST));
        counted.operations += t.operations;
        stats.dataTransfers++;
      } catch (error) {
        if (!(error instanceof DevaError)) throw error;
        counted.operations += error.operations;
        stats.ioErrors++;
        throw new Refusal(error.code === 'EIO' ? 'EIO' : error.code, `the driver's device_${kind} failed: ${error.message}`);
      }
    }
  }

  /** Steps 3 to 8 for the container frames `missed` (file pages firstPage + index). */
  function* readFromDisk(task: number, handle: number, info: physmem.ContainerInfo, inode: Inode, firstPage: number, missed: readonly number[]): Op<void> {
    const shared = yield* shareWithDriver(task, handle, info, 'fs_read');
    let expected = shared.version;
    const runs: Run[] = [];
    const holes: number[] = [];
    let blocks = 0;
    for (const index of missed) {
      const numbers = yield* pageBlocks(inode, firstPage + index);
      if (numbers.includes(0)) holes.push(index);
      numbers.forEach((b, j) => {
        if (b === 0) return;
        blocks++;
        addRun(runs, b, bs / SECTOR, index * PAGE + j * bs);
      });
    }
    // Holes read as zeros: a copy of the zero frame first (the driver fills the rest of the page).
    for (let at = 0; at < holes.length; ) {
      let count = 1;
      while (at + count < holes.length && count < GATHER_PER_REQUEST && holes[at + count] === holes[at]! + count) count++;
      const versions = yield* physmem.copyGatherWithVersions(env, zero, new Array<number>(count).fill(0), handle, holes[at]!);
      expected++;
      if (versions.destination !== expected) yield* versionFailure(versions.destination, expected, handle, []);
      at += count;
    }
    const counted = { operations: 0 };
    if (runs.length > 0) {
      yield* env.trace(`002 step 4: ext2fs: device_read(container ${shared.handle}, ${plural(blocks, 'block')} in ${plural(runs.length, 'run')})`);
      try {
        yield* transfer('read', shared.handle, runs, counted);
      } finally {
        expected += counted.operations;
      }
    }
    // 8. The private logical copy into the cache, and the version check.
    if (missed.length > cache.capacity) {
      // More than the cache holds: nothing is kept, the version is checked alone.
      const version = (yield* physmem.info(env, handle)).version;
      if (version !== expected) yield* versionFailure(version, expected, handle, []);
      yield* env.trace(`002 step 8: ext2fs: version ${version} = ${shared.version} + ${expected - shared.version} operations; ${missed.length} pages are more than the cache holds: none kept`);
      return;
    }
    yield* evict(cache.overflow(missed.length));
    const first = cache.freeRun(missed.length);
    const slots = missed.map((_, i) => first + i);
    let version = 0;
    for (let at = 0; at < missed.length; at += GATHER_PER_REQUEST) {
      const part = missed.slice(at, at + GATHER_PER_REQUEST);
      version = (yield* physmem.copyGatherWithVersions(env, handle, part, cacheContainer, first + at)).source;
      expected++;
    }
    if (version !== expected) yield* versionFailure(version, expected, handle, slots);
    missed.forEach((index, i) => cache.insert(inode.number, firstPage + index, first + i));
    stats.cachedPages = cache.size;
    yield* env.trace(`002 step 8: ext2fs: container_copy_out(container ${handle}, page cache, private) => version ${version} = ${shared.version} + ${expected - shared.version} operations: ${plural(missed.length, 'page')} kept in the cache`);
  }

  /** The version check failed: the copies are dropped and the read fails with EIO. */
  function* versionFailure(version: number, expected: number, handle: number, slots: readonly number[]): Op<never> {
    stats.versionFailures++;
    stats.ioErrors++;
    if (slots.length > 0) yield* physmem.deallocate(env, cacheContainer, slots[0]!, slots.length);
    yield* env.trace(`002 step 8: ext2fs: container ${handle} is at version ${version}, not ${expected}: someone else touched it; the data is discarded`);
    yield* print(env, `ext2fs: container ${handle} was changed by someone else during the transfer (version ${version}, expected ${expected}): EIO\n`);
    throw new Refusal('EIO', 'the container was touched during the transfer');
  }

  function* read(task: number, w: readonly number[]): Op<OutgoingMessage> {
    const file = fileOf(task, w[0]! >>> 0);
    const offset = (w[1]! >>> 0) + (w[2]! >>> 0) * 2 ** 32;
    const length = w[3]! >>> 0;
    const handle = w[4]! >>> 0;
    const inode = file.inode;
    refuseUnless((inode.mode & S_IFMT) !== FileMode.Directory, 'EISDIR', `inode ${inode.number} is a directory`);
    refuseUnless(offset % PAGE === 0, 'EINVAL', `offset ${offset} is not a multiple of ${PAGE}`);
    const bytes = Math.max(0, Math.min(length, inode.size - offset));
    yield* env.trace(`002 step 2: ext2fs: fs_read(inode ${inode.number}, offset ${offset}, length ${length}, container ${handle}) from task ${task}`);
    if (bytes === 0) return { label: 0, words: [0] };
    const pages = Math.ceil(bytes / PAGE);
    const firstPage = offset / PAGE;
    const hits: { index: number; slot: number }[] = [];
    const missed: number[] = [];
    for (let i = 0; i < pages; i++) {
      const slot = cache.lookup(inode.number, firstPage + i);
      if (slot === undefined) missed.push(i);
      else hits.push({ index: i, slot });
    }
    // The container is checked (the caller gave it to us, it is large enough) at its first read,
    // and its version taken whenever the disk is involved; a read the cache answers needs neither.
    const key = `${task}:${handle}`;
    if (missed.length > 0 || !checked.has(key)) {
      const info = yield* clientContainer(task, handle);
      refuseUnless(info.frames >= pages, 'EINVAL', `container ${handle} has ${info.frames} frames, the read needs ${pages}`);
      checked.add(key);
      if (missed.length > 0) yield* readFromDisk(task, handle, info, inode, firstPage, missed);
    }
    // Pages in the cache: a copy-on-write copy of their frames into the container.
    for (let at = 0; at < hits.length; ) {
      let count = 1;
      while (at + count < hits.length && count < GATHER_PER_REQUEST && hits[at + count]!.index === hits[at]!.index + count) count++;
      yield* physmem.copyGather(env, cacheContainer, hits.slice(at, at + count).map((h) => h.slot), handle, hits[at]!.index);
      at += count;
    }
    if (hits.length > 0) yield* env.trace(`002 step 8: ext2fs: ${plural(hits.length, 'page')} from the page cache: container_copy(page cache, container ${handle}, private), no disk access`);
    stats.reads++;
    stats.cacheHits += hits.length;
    stats.cacheMisses += missed.length;
    yield* env.trace(`002 step 9: ext2fs: fs_read => ${bytes} bytes`);
    return { label: 0, words: [bytes] };
  }

  function* write(task: number, w: readonly number[]): Op<OutgoingMessage> {
    const file = fileOf(task, w[0]! >>> 0);
    const offset = (w[1]! >>> 0) + (w[2]! >>> 0) * 2 ** 32;
    const length = w[3]! >>> 0;
    const handle = w[4]! >>> 0;
    const inode = file.inode;
    refuseUnless(file.writable, 'EBADF', `file ${w[0]} is not open for writing`);
    refuseUnless((inode.mode & S_IFMT) === FileMode.Regular, 'EINVAL', `inode ${inode.number} is not a regular file`);
    refuseUnless(offset % PAGE === 0, 'EINVAL', `offset ${offset} is not a multiple of ${PAGE}`);
    refuseUnless(offset + length <= inode.size, 'ENOSPC', `a write to bytes ${offset}-${offset + length - 1} of a file of ${inode.size} (no block allocation)`);
    if (length === 0) return { label: 0, words: [0] };
    const info = yield* clientContainer(task, handle);
    refuseUnless(info.frames * PAGE >= length, 'EINVAL', `container ${handle} has ${info.frames} frames, the write needs ${Math.ceil(length / PAGE)}`);
    const firstBlock = Math.floor(offset / bs);
    const lastBlock = Math.floor((offset + length - 1) / bs);
    const numbers = yield* volume.fileBlocks(inode, firstBlock, lastBlock - firstBlock + 1);
    const runs: Run[] = [];
    numbers.forEach((b, i) => {
      const start = (firstBlock + i) * bs;
      refuseUnless(b !== 0, 'ENOSPC', `block ${firstBlock + i} of inode ${inode.number} is a hole (no block allocation)`);
      refuseUnless(b >= sb.firstDataBlock && b < sb.blocksCount, 'EIO', `inode ${inode.number} points at block ${b}, outside the volume`);
      addRun(runs, b, Math.ceil(Math.min(bs, offset + length - start) / SECTOR), start - offset);
    });
    yield* env.trace(`ext2fs: fs_write(inode ${inode.number}, offset ${offset}, length ${length}, container ${handle}) from task ${task}`);
    const shared = yield* shareWithDriver(task, handle, info, 'fs_write');
    const counted = { operations: 0 };
    // The pages written leave the cache whatever happens (the disk may hold part of the new data).
    const dropped = cache.remove(inode.number, offset / PAGE, Math.floor((offset + length - 1) / PAGE));
    yield* freeSlots(dropped.map((d) => d.slot));
    stats.cachedPages = cache.size;
    yield* env.trace(`ext2fs: device_write(container ${shared.handle}, ${plural(numbers.length, 'block')} in ${plural(runs.length, 'run')})`);
    yield* transfer('write', shared.handle, runs, counted);
    const version = (yield* physmem.info(env, handle)).version;
    const expected = shared.version + counted.operations;
    if (version !== expected) yield* versionFailure(version, expected, handle, []);
    stats.writes++;
    yield* env.trace(`ext2fs: fs_write => ${length} bytes (version ${version} = ${shared.version} + ${counted.operations} operations)`);
    return { label: 0, words: [length] };
  }

  function* open(task: number, w: readonly number[]): Op<OutgoingMessage> {
    const flags = w[0]! >>> 0;
    const length = w[1]! >>> 0;
    refuseUnless(length <= PATH_BYTES && w.length >= 2 + Math.ceil(length / 4), 'ENAMETOOLONG', `a path of ${length} bytes (at most ${PATH_BYTES})`);
    const path = decodeUtf8(unpackWords(w.slice(2), length));
    let owned = 0;
    for (const f of files.values()) if (f.task === task) owned++;
    refuseUnless(owned < FILES_PER_TASK, 'EMFILE', `task ${task} has ${FILES_PER_TASK} files open`);
    const inode = yield* volume.resolve(path);
    const type = inode.mode & S_IFMT;
    const writable = (flags & OpenFlag.Write) !== 0;
    refuseUnless(!writable || type !== FileMode.Directory, 'EISDIR', `'${path}' is a directory`);
    // The file's block map now (its indirect blocks into the metadata cache), so that its reads
    // go to the disk for their data only.
    if (type === FileMode.Regular && !(inode.flags & EXTENTS_FLAG)) yield* volume.fileBlocks(inode, 0, Math.ceil(inode.size / bs));
    const file = nextFile++;
    files.set(file, { task, inode, writable });
    return { label: 0, words: [file, inode.number, inode.size >>> 0, Math.floor(inode.size / 2 ** 32), inode.mode] };
  }

  function* readdir(task: number, w: readonly number[]): Op<OutgoingMessage> {
    const file = fileOf(task, w[0]! >>> 0);
    const index = w[1]! >>> 0;
    const part = w[2]! >>> 0;
    const entries = yield* volume.readDirectory(file.inode);
    if (index >= entries.length) return { label: 0, words: [0, 0, 0, 0] };
    const entry = entries[index]!;
    const type = yield* volume.typeOf(entry);
    const name = encodeUtf8(entry.name);
    const piece = name.subarray(part * NAME_BYTES_PER_REPLY, (part + 1) * NAME_BYTES_PER_REPLY);
    return { label: 0, words: [index + 1 < entries.length ? index + 1 : 0, entry.inode, type, name.length, ...packWords(piece)] };
  }

  function* handle(request: ServerRequest): Op<OutgoingMessage | null> {
    const reclaim = physmem.reclaimRequest(request.tag.label, request.words);
    if (reclaim && request.from === startup.physmem) {
      // physmem wants frames back: the least recently used pages go.
      yield* evict(reclaim.frames);
      stats.cachedPages = cache.size;
      return null;
    }
    refuseUnless(request.tag.typed === 0, 'EINVAL', 'requests carry no typed items');
    yield* env.work(EXT2FS_REQUEST_CYCLES);
    const task = request.from & 0x3fff;
    const w = request.words;
    const need = (n: number): void => refuseUnless(w.length >= n, 'EINVAL', `${w.length} words, the request needs ${n}`);
    try {
      switch (request.tag.label) {
        case FsOp.Open:
          need(2);
          return yield* open(task, w);
        case FsOp.Close:
          need(1);
          fileOf(task, w[0]! >>> 0);
          files.delete(w[0]! >>> 0);
          return { label: 0 };
        case FsOp.Read:
          need(5);
          return yield* read(task, w);
        case FsOp.Write:
          need(5);
          return yield* write(task, w);
        case FsOp.Stat: {
          need(1);
          const i = fileOf(task, w[0]! >>> 0).inode;
          return { label: 0, words: [i.number, i.mode, i.links, i.uid, i.gid, i.size >>> 0, Math.floor(i.size / 2 ** 32), i.blocks, i.mtime] };
        }
        case FsOp.Readdir:
          need(3);
          return yield* readdir(task, w);
        case FsOp.Stats:
          stats.cachedPages = cache.size;
          return { label: 0, words: FS_STATS_KEYS.map((k) => stats[k]) };
        default:
          throw new Refusal('EINVAL', `no operation 0x${request.tag.label.toString(16)}`);
      }
    } catch (error) {
      if (error instanceof VolumeError) {
        if (error.code === 'EIO') yield* print(env, `ext2fs: ${error.message}\n`);
        throw new Refusal(error.code, error.message);
      }
      if (error instanceof physmem.PhysmemError) throw new Refusal(error.code, error.message);
      throw error;
    }
  }

  return yield* new ServerLoop(env, 'ext2fs', handle).run();
}
