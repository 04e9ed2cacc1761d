// `l4hurd bench`, the file server's part: reading a file through the whole flow of 002 (the
// client's container, ext2fs, deva's DMA, the page cache's copy-on-write copy and version
// check, the client copying the data out), in 64 KiB reads, cold (every page off the disk) and
// cached (every page a copy-on-write copy of the cache's frame), in a booted image of the Hurd
// with a disk (servers/demo/fileread-bench.ts), timed between the program's two console
// markers; model cycles are read from the machine at the same points. The baseline is the host
// copying the same bytes out of the disk's array in the same 64 KiB pieces (what the flow
// delivers, with none of the machine around it). Each figure is the best of three boots.

import { MemoryDisk } from '../emulator/disk.ts';
import { FILEREAD_BENCH_END, FILEREAD_BENCH_START } from '../servers/demo/fileread-bench.ts';
import { HURD_MODULES, benchImage, timedBetween } from './bench-marks.ts';
import { makeExt2Image } from './ext2-image.ts';

const FILE_BYTES = 8 * 1024 * 1024;
const CHUNK = 65536;
const CACHED_ROUNDS = 4;

export interface FileReadBenchResult {
  /** MiB per host second read through the whole flow, cold (every page off the disk). */
  fileReadColdMiBPerSec: number;
  /** The same with every page in the page cache. */
  fileReadCachedMiBPerSec: number;
  /** Model cycles per 4 KiB read, cold (the disk model's seek, rotation and transfer included). */
  fileReadColdCycles: number;
  /** Model cycles per 4 KiB read from the cache. */
  fileReadCachedCycles: number;
  /** The baseline: MiB per host second copying the same bytes from the disk's array in 64 KiB pieces. */
  fileReadHostCopyMiBPerSec: number;
}

function seeded(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0x1234567;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function image(commandLine: string): Promise<Uint8Array> {
  return benchImage([
    ...HURD_MODULES,
    ['deva', 'program', 'servers/deva/main.ts', 'quiet'],
    ['ext2fs', 'program', 'servers/ext2fs/main.ts', 'quiet cache-pages=4096'],
    ['bench', 'program', 'servers/demo/fileread-bench.ts', commandLine],
  ]);
}

/** Host seconds and model cycles between the markers, best of `runs` boots. */
function timed(bytes: Uint8Array, disk: Uint8Array, runs: number): { seconds: number; cycles: number } {
  return timedBetween(bytes, FILEREAD_BENCH_START, FILEREAD_BENCH_END, runs, 'file-read', () => ({ disk: new MemoryDisk(disk) }));
}

/** The baseline: the same bytes copied out of the disk's array in CHUNK pieces, best of three. */
function hostCopy(disk: Uint8Array, rounds: number): number {
  const out = new Uint8Array(CHUNK);
  let best = Infinity;
  let sum = 0;
  for (let run = 0; run < 3; run++) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) {
      for (let at = 0; at + CHUNK <= FILE_BYTES; at += CHUNK) {
        out.set(disk.subarray(at, at + CHUNK));
        sum += out[at & (CHUNK - 1)]!;
      }
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  if (sum < 0) throw new Error('unreachable');
  return (rounds * FILE_BYTES) / (1024 * 1024) / best;
}

export async function runFileReadBenchmarks(): Promise<FileReadBenchResult> {
  const disk = makeExt2Image({ blockSize: 4096, entries: [{ path: '/bench.bin', data: seeded(FILE_BYTES) }] });
  const cold = timed(await image(`mode=cold chunk=${CHUNK}`), disk, 3);
  const cached = timed(await image(`mode=cached chunk=${CHUNK} rounds=${CACHED_ROUNDS}`), disk, 3);
  const mib = FILE_BYTES / (1024 * 1024);
  const pages = FILE_BYTES / 4096;
  return {
    fileReadColdMiBPerSec: mib / cold.seconds,
    fileReadCachedMiBPerSec: (mib * CACHED_ROUNDS) / cached.seconds,
    fileReadColdCycles: cold.cycles / pages,
    fileReadCachedCycles: cached.cycles / (pages * CACHED_ROUNDS),
    fileReadHostCopyMiBPerSec: hostCopy(disk, 4),
  };
}
