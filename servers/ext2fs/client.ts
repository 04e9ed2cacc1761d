// The file server's client interface: what programs call, with `yield*`, to read and write
// files of the disk's ext2 volume.
//
//   const file = yield* fs.open(env, '/hello.txt');
//   const container = yield* physmem.create(env, { frames: 16 });        // 002 step 1
//   const bytes = yield* fs.read(env, file, 0, 65536, container);        // steps 2-9
//   yield* physmem.map(env, container, 0, 16, 0x20000000, Rights.Read);  // step 10
//
// The client supplies the memory: `read` and `write` name a container of the caller's, which
// the stub shares with the file server (once per container) and whose frames hold the data,
// frame i the file's bytes offset + 4096 i onwards. Offsets are multiples of 4096. Errors throw
// an Ext2fsError whose `code` is a POSIX name: ENOENT, ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG
// (paths), EBADF (a file or container the caller does not hold, or a write to a file opened for
// reading), EINVAL (an offset not a multiple of 4096, a container too small), ENOSPC (a write
// past the file's size or into a hole: the server allocates no blocks), EMFILE (64 files open),
// EIO (the disk failed, or the container was touched during the transfer), ESRCH (no file
// server in the image).

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { ServerError, type ErrorName } from '../errno.ts';
import * as physmem from '../physmem/client.ts';
import { replyErrorName, rpc, type RpcReply } from '../rpc.ts';
import { startupOf } from '../startup.ts';
import * as task from '../task/client.ts';
import { decodeUtf8, encodeUtf8, packWords, unpackWords } from '../text.ts';
import { FS_STATS_KEYS, FsOp, NAME_BYTES_PER_REPLY, OpenFlag, PATH_BYTES, type FsStats } from './protocol.ts';

export type { FsStats } from './protocol.ts';
export { PAGE } from './protocol.ts';

export class Ext2fsError extends ServerError {
  constructor(code: ErrorName, message?: string) {
    super('ext2fs', code, message);
    this.name = 'Ext2fsError';
  }
}

export interface FileStat {
  readonly inode: number;
  /** st_mode: the type bits (0o170000) and the permissions. */
  readonly mode: number;
  readonly links: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** 512-byte units. */
  readonly blocks: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
}

export interface DirectoryEntry {
  readonly name: string;
  readonly inode: number;
  /** The ext2 entry type: 1 regular, 2 directory, 7 symbolic link, ... */
  readonly type: number;
}

/** The file server's thread, per task (tasks made from one module share this module's state). */
const servers = new Map<number, number>();
/** The file server's handle for each container a task shared with it: `task:container` -> handle. */
const shares = new Map<string, number>();

function* server(env: ProgramEnv, name: string = 'ext2fs'): Op<number> {
  const self = (yield* startupOf(env)).task;
  const known = servers.get(self);
  if (known) return known;
  let thread: number;
  try {
    thread = yield* task.lookup(env, name);
  } catch (error) {
    if (error instanceof ServerError) throw new Ext2fsError('ESRCH', 'there is no file server in this image');
    throw error;
  }
  servers.set(self, thread);
  return thread;
}

function* request(env: ProgramEnv, label: number, words: readonly number[]): Op<RpcReply> {
  const reply = yield* rpc(env, yield* server(env), label, words);
  if (reply.label !== 0) throw new Ext2fsError(replyErrorName(reply));
  return reply;
}

/** The server's handle for the caller's container (shared with it the first time). */
function* sharedContainer(env: ProgramEnv, container: number): Op<number> {
  const self = (yield* startupOf(env)).task;
  const key = `${self}:${container >>> 0}`;
  const known = shares.get(key);
  if (known !== undefined) return known;
  const fsTask = (yield* server(env)) & 0x3fff;
  const handle = yield* physmem.share(env, container, fsTask);
  shares.set(key, handle);
  return handle;
}

/** Opens `path` (absolute; symbolic links followed): the file's number for the other calls. */
export function* open(env: ProgramEnv, path: string, options: { write?: boolean } = {}): Op<number> {
  const bytes = encodeUtf8(path);
  if (bytes.length > PATH_BYTES) throw new Ext2fsError('ENAMETOOLONG', `a path of ${bytes.length} bytes (at most ${PATH_BYTES})`);
  return (yield* request(env, FsOp.Open, [options.write ? OpenFlag.Write : 0, bytes.length, ...packWords(bytes)])).words[0]!;
}

export function* close(env: ProgramEnv, file: number): Op<void> {
  yield* request(env, FsOp.Close, [file >>> 0]);
}

/** Reads `length` bytes from `offset` into `container`: resolves to the bytes read (fewer at the end of the file). */
export function* read(env: ProgramEnv, file: number, offset: number, length: number, container: number): Op<number> {
  const handle = yield* sharedContainer(env, container);
  return (yield* request(env, FsOp.Read, [file >>> 0, offset >>> 0, Math.floor(offset / 2 ** 32), length >>> 0, handle])).words[0]!;
}

/** Writes `length` bytes of `container` to the file from `offset` (blocks the file has). */
export function* write(env: ProgramEnv, file: number, offset: number, length: number, container: number): Op<number> {
  const handle = yield* sharedContainer(env, container);
  return (yield* request(env, FsOp.Write, [file >>> 0, offset >>> 0, Math.floor(offset / 2 ** 32), length >>> 0, handle])).words[0]!;
}

export function* stat(env: ProgramEnv, file: number): Op<FileStat> {
  const [inode, mode, links, uid, gid, low, high, blocks, mtime] = (yield* request(env, FsOp.Stat, [file >>> 0])).words;
  return { inode: inode!, mode: mode!, links: links!, uid: uid!, gid: gid!, size: low! + high! * 2 ** 32, blocks: blocks!, mtime: mtime! };
}

/** The entries of directory `file`, "." and ".." included, in the directory's order. */
export function* readdir(env: ProgramEnv, file: number): Op<DirectoryEntry[]> {
  const entries: DirectoryEntry[] = [];
  let index = 0;
  for (;;) {
    const first = (yield* request(env, FsOp.Readdir, [file >>> 0, index, 0])).words;
    const [next, inode, type, length] = first;
    if (!inode) return entries;
    const name = new Uint8Array(length!);
    name.set(unpackWords(first.slice(4), Math.min(length!, NAME_BYTES_PER_REPLY)));
    for (let part = 1; part * NAME_BYTES_PER_REPLY < length!; part++) {
      const more = (yield* request(env, FsOp.Readdir, [file >>> 0, index, part])).words;
      name.set(unpackWords(more.slice(4), Math.min(length! - part * NAME_BYTES_PER_REPLY, NAME_BYTES_PER_REPLY)), part * NAME_BYTES_PER_REPLY);
    }
    entries.push({ name: decodeUtf8(name), inode: inode!, type: type! });
    if (!next) return entries;
    index = next;
  }
}

export function* stats(env: ProgramEnv): Op<FsStats> {
  const words = (yield* request(env, FsOp.Stats, [])).words;
  return Object.fromEntries(FS_STATS_KEYS.map((k, i) => [k, words[i] ?? 0])) as unknown as FsStats;
}
