// A host file as the machine's disk (`l4hurd boot --disk FILE`): the backing of the emulated disk
// controller (emulator/disk.ts), read with positioned reads as the controller moves sectors.
//
// Copy-on-write by default: sectors the machine writes are kept in host memory (one 4 KiB piece
// per written piece of the disk), reads see them over the file, and the file is never written,
// so a user's disk image stays as it was. With `writable` (--disk-writable) writes go through to
// the file at once (positioned writes; no cache of our own, so a later boot of the same file
// reads what this one wrote), and the file is flushed to stable storage when it is closed.
//
// The file must be a regular file of at least one sector; its size decides the disk's (a last
// partial sector reads as zeros beyond the file and is not written). A read or write the host
// refuses is a medium error of the controller, never an exception of the emulator.

import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { SECTOR_BYTES, type DiskBacking } from '../emulator/disk.ts';
import { FileError, reason } from './files.ts';

/** Pieces of the copy-on-write overlay: 8 sectors. */
const PIECE_SECTORS = 8;
const PIECE_BYTES = PIECE_SECTORS * SECTOR_BYTES;

export class FileDisk implements DiskBacking {
  readonly sectors: number;
  readonly path: string;
  readonly writable: boolean;
  private fd: number;
  private readonly bytes: number;
  /** Written pieces (copy-on-write), by piece number. */
  private readonly overlay = new Map<number, Uint8Array>();

  /** Whether close() closes the descriptor (false: it is another FileDisk's, `descriptor` below). */
  private readonly owned: boolean;

  /**
   * Opens `path`; or, with `descriptor`, reads through that open descriptor of the same file
   * (another FileDisk's, in this process): positioned reads need no descriptor of their own, so
   * each of the debugger's machine threads keeps its own copy-on-write overlay over one file
   * descriptor, which stays its opener's to close.
   */
  constructor(path: string, options: { writable?: boolean; descriptor?: number } = {}) {
    this.path = path;
    this.writable = options.writable === true && options.descriptor === undefined;
    this.owned = options.descriptor === undefined;
    let fd: number;
    try {
      fd = options.descriptor ?? openSync(path, (this.writable ? constants.O_RDWR : constants.O_RDONLY) | constants.O_NONBLOCK);
    } catch (error) {
      throw new FileError(`cannot open the disk ${path}: ${reason(error)}`);
    }
    const stats = fstatSync(fd);
    const fail = (message: string): never => {
      if (this.owned) closeSync(fd);
      throw new FileError(message);
    };
    if (!stats.isFile()) {
      fail(`the disk ${path} is not a regular file${stats.isDirectory() ? ' (it is a directory)' : ''}`);
    }
    if (stats.size < SECTOR_BYTES) fail(`the disk ${path} has ${stats.size} bytes: at least one sector (${SECTOR_BYTES} bytes) is needed`);
    if (stats.size > 2 ** 32 * SECTOR_BYTES) fail(`the disk ${path} is larger than 2 TiB, the most 32-bit sector numbers reach`);
    this.fd = fd;
    this.bytes = stats.size;
    this.sectors = Math.ceil(stats.size / SECTOR_BYTES);
  }

  read(sector: number, into: Uint8Array): boolean {
    if (this.fd < 0) return false;
    try {
      const start = sector * SECTOR_BYTES;
      this.readFile(start, into);
      if (this.overlay.size > 0) {
        for (let at = start - (start % PIECE_BYTES); at < start + into.length; at += PIECE_BYTES) {
          const piece = this.overlay.get(at / PIECE_BYTES);
          if (!piece) continue;
          const from = Math.max(at, start);
          const to = Math.min(at + PIECE_BYTES, start + into.length);
          into.set(piece.subarray(from - at, to - at), from - start);
        }
      }
      return true;
    } catch {
      return false;
    }
  }

  write(sector: number, data: Uint8Array): boolean {
    if (this.fd < 0) return false;
    const start = sector * SECTOR_BYTES;
    try {
      if (this.writable) {
        const length = Math.max(0, Math.min(data.length, this.bytes - start));
        let done = 0;
        while (done < length) done += writeSync(this.fd, data, done, length - done, start + done);
        return true;
      }
      for (let at = start - (start % PIECE_BYTES); at < start + data.length; at += PIECE_BYTES) {
        const key = at / PIECE_BYTES;
        let piece = this.overlay.get(key);
        if (!piece) {
          piece = new Uint8Array(PIECE_BYTES);
          this.readFile(at, piece);
          this.overlay.set(key, piece);
        }
        const from = Math.max(at, start);
        const to = Math.min(at + PIECE_BYTES, start + data.length);
        piece.set(data.subarray(from - start, to - start), from - at);
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Bytes of the file from `position` into `into` (zeros past its end). */
  private readFile(position: number, into: Uint8Array): void {
    let done = 0;
    while (done < into.length && position + done < this.bytes) {
      const n = readSync(this.fd, into, done, into.length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    into.fill(0, done);
  }

  /** Closes the file (a writable one is flushed first). Later reads and writes fail as medium errors. */
  close(): void {
    if (this.fd < 0) return;
    try {
      if (this.writable) fsyncSync(this.fd);
    } finally {
      if (this.owned) closeSync(this.fd);
      this.fd = -1;
    }
  }

  /** The open descriptor, for FileDisks of other threads over the same file (-1 once closed). */
  get descriptor(): number {
    return this.fd;
  }
}
