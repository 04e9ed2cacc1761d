// A client of the file server for the tests (test/servers/file-read.test.ts). Lines start with
// `fs: `. Modes (mode=...):
//   read     reads path= in reads of chunk= bytes twice; prints the CRC-32s and what the disk
//            and the cache did each time
//   hostile  a second thread maps the container writable and writes into it over and over
//            while the first reads path=: the read must fail with EIO; then it reads again with
//            no writer: the data must be right, and the cache must not have kept the bad read
//   errors   reads path= (a file whose blocks lie past the end of the disk, or any file under
//            a driver that fails): prints the error; then reads good= and prints its CRC-32
//   write    writes a pattern over path= (its size), reads it back, prints the CRC-32s
//   ops      the rest of the interface and its refusals
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { Rights } from '../../../libl4/fpage.ts';
import { crc32 } from '../../../servers/crc32.ts';
import * as deva from '../../../servers/deva/client.ts';
import * as fs from '../../../servers/ext2fs/client.ts';
import * as physmem from '../../../servers/physmem/client.ts';
import { commandLineOptions, numberOption, print, program } from '../../../servers/runtime.ts';
import * as task from '../../../servers/task/client.ts';
import { threadSwitch } from '../../../libl4/syscalls.ts';
import { refusal, sleep } from './common.ts';

const WINDOW = 0x20000000;
const hex = (n: number): string => n.toString(16).padStart(8, '0');

export default program(function* fsClient(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const mode = options.mode ?? 'read';
  const path = options.path ?? '/data.bin';
  const chunk = numberOption(options, 'chunk', 65536);
  const driver = yield* deva.find(env);
  const say = (text: string): Op<void> => print(env, `fs: ${text}\n`);

  /** Reads the whole file through one container: the CRC-32, or the error's name. */
  function* readAll(name: string): Op<string> {
    let file: number;
    try {
      file = yield* fs.open(env, name);
    } catch (error) {
      if (error instanceof fs.Ext2fsError) return `open ${error.code}`;
      throw error;
    }
    const { size } = yield* fs.stat(env, file);
    const frames = Math.max(1, Math.ceil(Math.min(size, chunk) / 4096));
    const container = yield* physmem.create(env, { frames });
    let crc = 0;
    try {
      for (let offset = 0; offset < size; offset += chunk) {
        const got = yield* fs.read(env, file, offset, chunk, container);
        yield* physmem.map(env, container, 0, Math.ceil(got / 4096), WINDOW, Rights.Read);
        crc = crc32(yield* env.readBytes(WINDOW, got), crc);
      }
    } catch (error) {
      if (error instanceof fs.Ext2fsError) return error.code;
      throw error;
    } finally {
      yield* physmem.destroy(env, container);
      yield* fs.close(env, file);
    }
    return hex(crc);
  }

  function* measured(name: string): Op<string> {
    const disk = yield* deva.stats(env, driver);
    const cache = yield* fs.stats(env);
    const result = yield* readAll(name);
    const disk2 = yield* deva.stats(env, driver);
    const cache2 = yield* fs.stats(env);
    return `${result} disk commands ${disk2.commands - disk.commands} hits ${cache2.cacheHits - cache.cacheHits} misses ${cache2.cacheMisses - cache.cacheMisses}`;
  }

  if (mode === 'read') {
    yield* say(`first ${yield* measured(path)}`);
    yield* say(`second ${yield* measured(path)}`);
    const s = yield* fs.stats(env);
    yield* say(`cached ${s.cachedPages} version failures ${s.versionFailures}`);
    return 0;
  }

  if (mode === 'hostile') {
    const file = yield* fs.open(env, path);
    const { size } = yield* fs.stat(env, file);
    const frames = Math.ceil(Math.min(size, chunk) / 4096);
    const container = yield* physmem.create(env, { frames });
    yield* physmem.map(env, container, 0, frames, WINDOW, Rights.ReadWrite);
    let reading = true;
    let stopped = false;
    let writes = 0;
    let refused = 0;
    yield* task.createThread(env, function* writer(tenv: ProgramEnv): Op<void> {
      while (reading) {
        // Map the container again (the driver's lock took every mapping away) and write.
        const got = yield* refusal(physmem.map(tenv, container, 0, frames, WINDOW, Rights.ReadWrite));
        if (got === 'ok') {
          yield* tenv.write32(WINDOW + 4 * (writes % 1024), 0xbad0000 + writes);
          writes++;
        } else {
          // Locked: let the others run (the driver, when its interrupt came), then try again.
          refused++;
          yield* threadSwitch(tenv);
        }
      }
      stopped = true;
    });
    const before = yield* fs.stats(env);
    const got = yield* refusal(fs.read(env, file, 0, chunk, container));
    reading = false;
    // The writer stops before the container goes.
    while (!stopped) yield* sleep(env, 100);
    const after = yield* fs.stats(env);
    yield* say(`hostile read ${got}; the writer wrote ${writes > 0 ? 'some' : 'no'} words, ${refused > 0 ? 'some' : 'no'} maps refused; version failures ${after.versionFailures - before.versionFailures}; cached pages ${before.cachedPages} -> ${after.cachedPages}`);
    yield* physmem.destroy(env, container);
    yield* fs.close(env, file);
    yield* say(`again ${yield* measured(path)}`);
    return 0;
  }

  if (mode === 'errors') {
    yield* say(`bad ${yield* readAll(path)}`);
    yield* say(`bad again ${yield* readAll(path)}`);
    if (options.good) yield* say(`good ${yield* readAll(options.good)}`);
    const s = yield* fs.stats(env);
    yield* say(`io errors ${s.ioErrors} cached ${s.cachedPages}`);
    return 0;
  }

  if (mode === 'write') {
    const file = yield* fs.open(env, path, { write: true });
    const { size } = yield* fs.stat(env, file);
    const frames = Math.ceil(size / 4096);
    yield* say(`before ${yield* readAll(path)}`);
    const container = yield* physmem.create(env, { frames });
    yield* physmem.map(env, container, 0, frames, WINDOW, Rights.ReadWrite);
    const data = new Uint8Array(frames * 4096);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
    yield* env.writeBytes(WINDOW, data);
    const wrote = yield* fs.write(env, file, 0, size, container);
    yield* physmem.destroy(env, container);
    yield* say(`wrote ${wrote} bytes, crc32 ${hex(crc32(data.subarray(0, size)))}`);
    yield* say(`after ${yield* measured(path)}`);
    yield* fs.close(env, file);
    return 0;
  }

  if (mode === 'ops') {
    const root = yield* fs.open(env, '/');
    const entries = yield* fs.readdir(env, root);
    yield* say(`root: ${entries.map((e) => `${e.name}:${e.type}`).join(' ')}`);
    const long = yield* fs.open(env, '/dir');
    yield* say(`dir: ${(yield* fs.readdir(env, long)).map((e) => (e.name.length > 20 ? `${e.name.slice(0, 4)}..(${e.name.length})` : e.name)).join(' ')}`);
    const file = yield* fs.open(env, path);
    const s = yield* fs.stat(env, file);
    yield* say(`stat size ${s.size} mode ${s.mode.toString(8)} links ${s.links}`);
    const container = yield* physmem.create(env, { frames: 1 });
    yield* say(`missing ${yield* refusal(fs.open(env, '/no/such'))}`);
    yield* say(`not a directory ${yield* refusal(fs.open(env, `${path}/x`))}`);
    yield* say(`read a directory ${yield* refusal(fs.read(env, root, 0, 4096, container))}`);
    yield* say(`unaligned ${yield* refusal(fs.read(env, file, 100, 4096, container))}`);
    yield* say(`write read-only ${yield* refusal(fs.write(env, file, 0, 4096, container))}`);
    const w = yield* fs.open(env, path, { write: true });
    yield* say(`write past the end ${yield* refusal(fs.write(env, w, 0, s.size + 4096, container))}`);
    yield* say(`container too small ${yield* refusal(fs.read(env, file, 0, 65536, container))}`);
    yield* say(`bad file ${yield* refusal(fs.stat(env, 9999))}`);
    yield* say(`past the end reads ${yield* fs.read(env, file, 1 << 24, 4096, container)} bytes`);
    yield* say(`symlink ${yield* readAll('/link')}, file ${yield* readAll(path)}`);
    return 0;
  }
  yield* say(`unknown mode ${mode}`);
  return 1;
});
