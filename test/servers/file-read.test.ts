// Reading and writing files through containers (002's "reading from a file"), on booted images
// with a disk: the demo image's ten steps against a golden trace, the page cache, the version
// checks against a hostile client and a hostile driver, disk errors, writes that survive a
// reboot of the same disk file, and the rest of the file server's interface.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MemoryDisk } from '../../emulator/disk.ts';
import { inodeLocation } from '../../servers/ext2fs/ext2.ts';
import { Volume } from '../../servers/ext2fs/volume.ts';
import { buildImage } from '../../tools/build.ts';
import { FileDisk } from '../../tools/disk-file.ts';
import { makeExt2Image } from '../../tools/ext2-image.ts';
import { bootImage } from '../../tools/loader.ts';
import { bootHurd, linesOf, type HurdBoot, type TestProgram } from '../support/hurd.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const update = process.env.L4HURD_UPDATE_GOLDEN === '1';
const E2FSCK = ['/sbin/e2fsck', '/usr/sbin/e2fsck'].find((p) => existsSync(p));

function seeded(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const DATA = seeded(200 * 1024, 7);
const TAIL = seeded(20 * 1024, 9);
/** Past the single indirect block's reach with 1 KiB blocks. */
const BIG = seeded(600 * 1024, 11);
const LONG_NAME = 'n'.repeat(240);

function disk(blockSize: 1024 | 4096 = 1024): Uint8Array {
  return makeExt2Image({
    blockSize,
    entries: [
      { path: '/hello.txt', data: new TextEncoder().encode('hello, world\n') },
      { path: '/data.bin', data: DATA },
      { path: '/link', symlink: 'data.bin' },
      { path: `/dir/${LONG_NAME}`, data: new Uint8Array(10) },
      { path: '/dir/short', data: new Uint8Array(10) },
      { path: '/big.bin', data: BIG },
      { path: '/tail.bin', data: TAIL },
    ],
    volumeName: 'test',
  });
}

/** Runs a volume generator to its end over the bytes of an image (host side). */
function run<T>(g: Generator<unknown, T, unknown>): T {
  let r = g.next();
  while (!r.done) r = g.next();
  return r.value;
}

function hostVolume(image: Uint8Array): Volume {
  return run(Volume.mount({ *read(ranges) { return ranges.map((r) => image.slice(r.offset, r.offset + r.length)); } }));
}

const hex = (n: number): string => n.toString(16).padStart(8, '0');

function programs(client: string, options: { deva?: string; devaEntry?: string; ext2fs?: string } = {}): TestProgram[] {
  return [
    { name: 'deva', entry: options.devaEntry ?? 'servers/deva/main.ts', commandLine: options.deva ?? 'quiet' },
    { name: 'ext2fs', entry: 'servers/ext2fs/main.ts', commandLine: options.ext2fs ?? 'quiet' },
    { name: 'client', entry: 'test/servers/programs/fs-client.ts', commandLine: client },
  ];
}

function expectClean(boot: HurdBoot): void {
  expect(boot.result.exitStatus, boot.output).toBe(0);
  expect(boot.output).not.toMatch(/invariant violated|internal error|halted/);
  expect(boot.mappings.problems).toEqual([]);
  expect(boot.result.kernel.checkInvariants()).toEqual([]);
  expect(boot.result.machine.cpu.counters.staleTranslations).toBe(0);
}

describe('file-read: the demo image', () => {
  it('reads a file through the ten steps of 002, in order, as the golden trace says', async () => {
    const image = await buildImage(join(root, 'images/file-read.json'));
    const events: string[] = [];
    const result = bootImage(image, { trace: (e) => e.kind === 'user' && events.push(`[${e.cycle}] ${e.text}`) });
    expect(result.exitStatus, result.output).toBe(0);
    const volume = readFileSync(join(root, 'images/disks/file-read.ext2'));
    const v = hostVolume(volume);
    const inode = run(v.resolve('/data/random.bin'));
    const blocks = run(v.fileBlocks(inode, 0, Math.ceil(inode.size / v.blockSize)));
    const bytes = new Uint8Array(blocks.length * v.blockSize);
    blocks.forEach((b, i) => bytes.set(volume.subarray(b * v.blockSize, (b + 1) * v.blockSize), i * v.blockSize));
    const crc = hex(crc32(bytes.subarray(0, inode.size)));
    expect(result.output).toContain(`file-read: /hello.txt (13 bytes): hello, world`);
    expect(result.output).toContain(`file-read: /data/random.bin: 204800 bytes, crc32 ${crc}, `);
    expect(result.output).toMatch(new RegExp(`file-read: /data/random.bin again: crc32 ${crc}, 0 disk commands; the page cache holds 51 pages, 50 hits, 51 misses`));
    // The first read of the file: steps 1 to 10 in order, each at least once.
    const first = events.findIndex((e) => e.includes('step 1: client: container_create(16 frames)'));
    const steps = events.slice(first).map((e) => Number(/002 step (\d+)/.exec(e)?.[1] ?? 0)).filter((n) => n > 0);
    const order = steps.slice(0, steps.indexOf(10) + 1).filter((n, i, all) => i === 0 || n !== all[i - 1]);
    expect(order).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const golden = join(root, 'test/servers/golden/file-read.trace');
    const text = `${events.join('\n')}\n`;
    if (update || !existsSync(golden)) writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, 'utf8'));
    expect(result.counters.diskErrors).toBe(0);
  });
});

describe('ext2fs: the page cache and the version checks', () => {
  it('answers a second read from the cache, with no disk command', async () => {
    const boot = await bootHurd(programs('mode=read path=/data.bin'), { disk: new MemoryDisk(disk()), watchMappings: true });
    const crc = hex(crc32(DATA));
    expect(linesOf(boot.output, 'fs: ')).toEqual([
      `fs: first ${crc} disk commands 10 hits 0 misses 50`,
      `fs: second ${crc} disk commands 0 hits 50 misses 0`,
      'fs: cached 50 version failures 0',
    ]);
    expectClean(boot);
  });

  it('reads 4 KiB-block volumes too', async () => {
    const boot = await bootHurd(programs('mode=read path=/link'), { disk: new MemoryDisk(disk(4096)), watchMappings: false });
    const crc = hex(crc32(DATA));
    expect(linesOf(boot.output, 'fs: ')[1]).toBe(`fs: second ${crc} disk commands 0 hits 50 misses 0`);
    expect(boot.result.exitStatus).toBe(0);
  });

  it('fails a read with EIO when the client writes into its container during it, and keeps the cache clean', async () => {
    // A small metadata cache: the read waits for the file's indirect block after it saved the
    // container's version, and the writer gets the processor then.
    const boot = await bootHurd(programs('mode=hostile path=/big.bin', { ext2fs: 'quiet metadata-blocks=2' }), { disk: new MemoryDisk(disk()), watchMappings: false });
    const lines = linesOf(boot.output, 'fs: ');
    expect(lines[0]).toMatch(/^fs: hostile read EIO; the writer wrote some words, .*; version failures 1; cached pages 0 -> 0$/);
    expect(lines[1]).toMatch(new RegExp(`^fs: again ${hex(crc32(BIG))} disk commands \\d+ hits 0 misses 150$`));
    expect(boot.output).toContain('was changed by someone else during the transfer');
    expect(boot.result.exitStatus).toBe(0);
  });

  it('fails a read with EIO when the driver makes one operation more than it says, and caches nothing', async () => {
    const boot = await bootHurd(programs('mode=errors path=/data.bin good=/hello.txt', { devaEntry: 'test/servers/programs/deva-faulty.ts', deva: 'quiet fault=extra-operation' }), {
      disk: new MemoryDisk(disk()),
      watchMappings: false,
    });
    expect(linesOf(boot.output, 'fs: ')).toEqual(['fs: bad EIO', 'fs: bad again EIO', 'fs: good EIO', 'fs: io errors 3 cached 0']);
    expect(boot.result.exitStatus).toBe(0);
  });
});

describe('ext2fs: disk errors', () => {
  it('a file whose blocks lie past the end of the disk reads as EIO; the servers run on', async () => {
    // tail.bin's first block pointer moved to the volume's last block, and the disk cut short of it.
    const image = disk().slice();
    const v = hostVolume(image);
    const tail = run(v.resolve('/tail.bin'));
    const at = inodeLocation(v.sb, v.groups, tail.number);
    new DataView(image.buffer).setUint32(at.block * v.blockSize + at.offset + 40, v.sb.blocksCount - 1, true);
    const cut = image.subarray(0, (v.sb.blocksCount - 4) * v.blockSize);
    const boot = await bootHurd(programs('mode=errors path=/tail.bin good=/data.bin'), { disk: new MemoryDisk(cut), watchMappings: false });
    expect(linesOf(boot.output, 'fs: ')).toEqual(['fs: bad EIO', 'fs: bad again EIO', `fs: good ${hex(crc32(DATA))}`, 'fs: io errors 2 cached 50']);
    expect(boot.output).toMatch(/deva: read of \d+ sectors from sector \d+ failed: the disk reported sectors outside the disk/);
    expect(boot.result.counters.diskErrors).toBe(2);
    expect(boot.result.exitStatus).toBe(0);
  });

  it('DMA outside RAM reads as EIO; the servers run on', async () => {
    const boot = await bootHurd(programs('mode=errors path=/data.bin', { devaEntry: 'test/servers/programs/deva-faulty.ts', deva: 'quiet fault=dma-outside' }), { disk: new MemoryDisk(disk()), watchMappings: false });
    expect(linesOf(boot.output, 'fs: ')).toEqual(['fs: bad EIO', 'fs: bad again EIO', 'fs: io errors 2 cached 0']);
    expect(boot.output).toMatch(/deva: read of \d+ sectors from sector \d+ failed: the disk reported DMA outside RAM/);
    expect(boot.result.counters.diskErrors).toBe(2);
    expect(boot.result.exitStatus).toBe(0);
  });
});

describe('ext2fs: writes', () => {
  it('a write reaches the disk file with --disk-writable: a reboot reads it back, and e2fsck finds the volume clean', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'l4hurd-fs-'));
    try {
      const file = join(dir, 'disk.img');
      writeFileSync(file, disk());
      const expected = new Uint8Array(DATA.length);
      for (let i = 0; i < expected.length; i++) expected[i] = (i * 7 + 3) & 0xff;
      const crc = hex(crc32(expected));
      const writable = new FileDisk(file, { writable: true });
      const first = await bootHurd(programs('mode=write path=/data.bin'), { disk: writable, watchMappings: false });
      writable.close();
      expect(linesOf(first.output, 'fs: ')).toEqual([`fs: before ${hex(crc32(DATA))}`, `fs: wrote ${DATA.length} bytes, crc32 ${crc}`, `fs: after ${crc} disk commands 5 hits 0 misses 50`]);
      expect(first.result.counters.diskSectorsWritten).toBe(400);
      // The same file, booted again (copy-on-write this time): the new data.
      const again = new FileDisk(file);
      const second = await bootHurd(programs('mode=read path=/data.bin'), { disk: again, watchMappings: false });
      again.close();
      expect(linesOf(second.output, 'fs: ')[0]).toBe(`fs: first ${crc} disk commands 10 hits 0 misses 50`);
      // e2fsprogs' check of the volume after the write (.ci/run installs e2fsprogs).
      expect(E2FSCK, 'e2fsck (e2fsprogs) is needed for this test').toBeDefined();
      expect(execFileSync(E2FSCK!, ['-fn', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toMatch(/^test: \d+\/\d+ files/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a copy-on-write disk leaves the file as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'l4hurd-fs-'));
    try {
      const file = join(dir, 'disk.img');
      const bytes = disk();
      writeFileSync(file, bytes);
      const cow = new FileDisk(file);
      const boot = await bootHurd(programs('mode=write path=/data.bin'), { disk: cow, watchMappings: false });
      cow.close();
      expect(boot.result.exitStatus).toBe(0);
      expect(Buffer.compare(readFileSync(file), Buffer.from(bytes))).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ext2fs: the interface', () => {
  it('opens, lists directories, stats, and refuses what it must with POSIX names', async () => {
    const boot = await bootHurd(programs('mode=ops path=/data.bin'), { disk: new MemoryDisk(disk()), watchMappings: false });
    const crc = hex(crc32(DATA));
    expect(linesOf(boot.output, 'fs: ')).toEqual([
      'fs: root: .:2 ..:2 lost+found:2 hello.txt:1 data.bin:1 link:7 dir:2 big.bin:1 tail.bin:1',
      `fs: dir: . .. nnnn..(240) short`,
      'fs: stat size 204800 mode 100644 links 1',
      'fs: missing ENOENT',
      'fs: not a directory ENOTDIR',
      'fs: read a directory EISDIR',
      'fs: unaligned EINVAL',
      'fs: write read-only EBADF',
      'fs: write past the end ENOSPC',
      'fs: container too small EINVAL',
      'fs: bad file EBADF',
      'fs: past the end reads 0 bytes',
      `fs: symlink ${crc}, file ${crc}`,
    ]);
    expect(boot.result.exitStatus).toBe(0);
  });
});

describe('l4hurd boot --disk', () => {
  it('boots (and debugs) the demo image with another disk, copy-on-write unless --disk-writable, and refuses bad disk options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'l4hurd-fs-'));
    try {
      const imagePath = join(dir, 'file-read.img');
      writeFileSync(imagePath, await buildImage(join(root, 'images/file-read.json')));
      const other = makeExt2Image({ entries: [{ path: '/hello.txt', data: new TextEncoder().encode('another disk\n') }, { path: '/data/random.bin', data: DATA }] });
      const file = join(dir, 'other.img');
      writeFileSync(file, other);
      const cli = (args: string[]) => spawnSync(process.execPath, [join(root, 'bin/l4hurd.mjs'), ...args], { encoding: 'utf8', timeout: 60_000 });
      const booted = cli(['boot', imagePath, '--disk', file]);
      expect(booted.status, booted.stderr).toBe(0);
      expect(booted.stdout).toContain('file-read: /hello.txt (13 bytes): another disk');
      expect(booted.stdout).toContain(`file-read: /data/random.bin: 204800 bytes, crc32 ${hex(crc32(DATA))}`);
      expect(booted.stdout).toMatch(/laden: disk \d+ sectors \(\d+ KiB\), registers 0xb0000000/);
      expect(Buffer.compare(readFileSync(file), Buffer.from(other))).toBe(0);
      const lonely = cli(['boot', imagePath, '--disk-writable']);
      expect(lonely.status).toBe(2);
      expect(lonely.stderr).toMatch(/^l4hurd boot: --disk-writable needs --disk FILE\n/);
      const missing = cli(['boot', imagePath, '--disk', join(dir, 'none.img')]);
      expect(missing.status).toBe(2);
      expect(missing.stderr).toBe(`l4hurd boot: cannot open the disk ${join(dir, 'none.img')}: no such file or directory\n`);
      // The debugger boots and replays with the same disk: run to the end, go back, run again.
      const script = join(dir, 'script.txt');
      writeFileSync(script, 'continue\nreverse-step 3000\ncontinue\n');
      const debugged = cli(['debug', imagePath, '--disk', file, '--script', script, '--batch']);
      expect(debugged.status, debugged.stderr).toBe(0);
      // Printed once on the way to the end and once more after going back before it: the
      // machine that replays reads the same disk.
      expect(debugged.stdout.split('file-read: /hello.txt (13 bytes): another disk').length).toBe(3);
      expect(debugged.stdout).not.toContain('hello.txt (13 bytes): hello, world');
      expect(debugged.stdout.match(/the machine shut down with status 0 at #\d+, cycle \d+/g)?.length).toBe(2);
      expect(Buffer.compare(readFileSync(file), Buffer.from(other))).toBe(0);
      const unwritable = cli(['debug', imagePath, '--disk', file, '--disk-writable', '--batch']);
      expect(unwritable.status).toBe(2);
      expect(unwritable.stderr).toMatch(/^l4hurd debug: unknown option '--disk-writable'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('libhurd-mm: file-backed regions', () => {
  it("maps a file read-only: the bytes are the file's, and two tasks share the cache's frames", async () => {
    let shared: { cache: number; first: number; second: number; both: number } | null = null;
    const boot = await bootHurd(
      [
        { name: 'deva', entry: 'servers/deva/main.ts', commandLine: 'quiet' },
        { name: 'ext2fs', entry: 'servers/ext2fs/main.ts', commandLine: 'quiet' },
        { name: 'first', entry: 'test/servers/programs/fs-mmap.ts', commandLine: 'role=first' },
        { name: 'second', entry: 'test/servers/programs/fs-mmap.ts', commandLine: 'role=second' },
      ],
      {
        disk: new MemoryDisk(disk()),
        watchMappings: false,
        trace: (event, introspect) => {
          if (event.kind !== 'user' || event.text !== 'fs-mmap: both mapped') return;
          // ext2fs is task 6, the mappers tasks 7 and 8: which frames each one's containers hold.
          const snapshot = introspect('physmem') as HurdBoot['physmem'];
          const framesOf = (task: number): Set<number> => new Set(snapshot.containers.filter((c) => c.owner === task).flatMap((c) => c.slots.map((s) => s.frame).filter((f) => f >= 0)));
          const cache = framesOf(6);
          const first = [...framesOf(7)].filter((f) => cache.has(f));
          const second = [...framesOf(8)].filter((f) => cache.has(f));
          shared = { cache: cache.size, first: first.length, second: second.length, both: first.filter((f) => second.includes(f)).length };
        },
      },
    );
    const crc = hex(crc32(DATA));
    expect(linesOf(boot.output, 'mmap: ')).toEqual([
      `mmap: first: 204800 bytes at 0x10000000, crc32 ${crc}, 50 pages in, cache hits 0 misses 50`,
      'mmap: first: write EINVAL, unaligned EINVAL, writable EINVAL, bad file EBADF',
      `mmap: second: 204800 bytes at 0x10000000, crc32 ${crc}, 50 pages in, cache hits 50 misses 0`,
      'mmap: second: write EINVAL, unaligned EINVAL, writable EINVAL, bad file EBADF',
    ]);
    // Every page of the file: one frame, in the cache and in both tasks' regions.
    expect(shared).toMatchObject({ first: 50, second: 50, both: 50 });
    expect(boot.result.exitStatus, boot.output).toBe(0);
  });
});
