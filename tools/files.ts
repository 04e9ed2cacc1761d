// Files the tools read and write, with every failure turned into one line that says why.
//
// Reading: only regular files, never more bytes than the caller's limit (the largest image the
// format allows, for images and data modules), so `/dev/zero`, a FIFO or a directory is refused
// at once instead of being read for ever. The file is opened without blocking (a FIFO would wait
// for a writer) and checked again after opening.
//
// Writing: a regular file is replaced whole, by writing a temporary file beside it and renaming
// it over the old one, so a failed write (a full disk) loses nothing; a device (`/dev/null`) is
// written directly; a directory is refused.

import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** A file that cannot be read or written: the message says which and why, in one line. */
export class FileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileError';
  }
}

/** Why a file operation failed, as a user would say it. */
export function reason(error: unknown): string {
  const code = error !== null && typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : '';
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EDQUOT':
      return 'the disk quota is exhausted';
    case 'EROFS':
      return 'a read-only file system';
    case 'EFBIG':
      return 'the file would be too large';
    case 'EIO':
      return 'an input/output error';
    case 'EPIPE':
      return 'the pipe is closed';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    case 'ETXTBSY':
      return 'the file is busy';
    default: {
      const message = error instanceof Error ? error.message : String(error);
      return message.split(/[\r\n]/)[0]!;
    }
  }
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'it is a directory';
  if (stats.isCharacterDevice()) return 'not a regular file (a character device)';
  if (stats.isBlockDevice()) return 'not a regular file (a block device)';
  if (stats.isFIFO()) return 'not a regular file (a FIFO)';
  if (stats.isSocket()) return 'not a regular file (a socket)';
  return 'not a regular file';
}

/**
 * Reads a regular file of at most `limit` bytes. `what` names it in messages ("the image
 * PATH"). Throws FileError.
 */
export function readInputFile(path: string, what: string, limit: number): Uint8Array {
  const fail = (why: string): never => {
    throw new FileError(`cannot read ${what}: ${why}`);
  };
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return fail(reason(error));
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) fail(kindOf(stats));
    if (stats.size > limit) fail(`${stats.size} bytes, more than the ${limit} bytes allowed`);
    const bytes = new Uint8Array(stats.size);
    let got = 0;
    while (got < bytes.length) {
      const n = readSync(fd, bytes, got, bytes.length - got, got);
      if (n === 0) break; // the file shrank while it was read
      got += n;
    }
    return got === bytes.length ? bytes : bytes.subarray(0, got);
  } catch (error) {
    if (error instanceof FileError) throw error;
    return fail(reason(error));
  } finally {
    closeSync(fd);
  }
}

/** Reads a UTF-8 text file of at most `limit` bytes (see readInputFile). */
export function readTextFile(path: string, what: string, limit: number): string {
  const bytes = readInputFile(path, what, limit);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FileError(`cannot read ${what}: not UTF-8 text`);
  }
}

/** Writes `data` to `path` as a whole (see the top of this file). Throws FileError. */
export function writeOutputFile(path: string, data: Uint8Array, what: string): void {
  const fail = (why: string): never => {
    throw new FileError(`cannot write ${what}: ${why}`);
  };
  let existing: Stats | undefined;
  try {
    existing = statSync(path);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') fail(reason(error));
  }
  if (existing?.isDirectory()) fail('it is a directory');
  if (existing && !existing.isFile()) {
    // A device or a FIFO: written in place (a FIFO without a reader is refused, not waited for).
    writeAll(path, constants.O_WRONLY | constants.O_NONBLOCK, data, fail);
    return;
  }
  const directory = dirname(resolve(path));
  try {
    mkdirSync(directory, { recursive: true });
  } catch (error) {
    fail(reason(error));
  }
  const temporary = join(directory, `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeAll(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, data, fail);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    if (error instanceof FileError) throw error;
    fail(reason(error));
  }
}

function writeAll(path: string, flags: number, data: Uint8Array, fail: (why: string) => never): void {
  let fd: number;
  try {
    fd = openSync(path, flags, 0o644);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENXIO') fail('a FIFO with no reader');
    return fail(reason(error));
  }
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
  } catch (error) {
    fail(reason(error));
  } finally {
    closeSync(fd);
  }
}
