// file-read: reads files of the disk through the whole flow of 002's "reading from a file" (the
// client's container, the file server, the driver's DMA, the page cache's private copy and its
// version check) and prints what it read and its CRC-32, then reads the file again, which the
// page cache answers without a disk command. `l4hurd build --config images/file-read.json` and
// `l4hurd boot images/file-read.img --trace user` show the ten numbered steps of each read.
//
// Command line: path=FILE (default /data/random.bin), text=FILE (a small text file printed
// first; default /hello.txt), chunk=BYTES (the size of each read; default 65536).

import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { Rights } from '../../libl4/fpage.ts';
import { crc32 } from '../crc32.ts';
import * as deva from '../deva/client.ts';
import * as fs from '../ext2fs/client.ts';
import * as physmem from '../physmem/client.ts';
import { commandLineOptions, decodeUtf8, numberOption, print, program } from '../runtime.ts';
import { counted } from '../text.ts';

/** Where the program maps its containers to read them. */
const WINDOW = 0x20000000;

export default program(function* fileRead(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const path = options.path ?? '/data/random.bin';
  const text = options.text ?? '/hello.txt';
  const chunk = Math.max(fs.PAGE, Math.floor(numberOption(options, 'chunk', 65536) / fs.PAGE) * fs.PAGE);
  const driver = yield* deva.find(env);

  /** Reads the whole file in reads of `chunk` bytes: its bytes' CRC-32 and length. */
  function* readFile(name: string, keep: boolean): Op<{ crc: number; size: number; bytes: Uint8Array | null }> {
    const file = yield* fs.open(env, name);
    const { size } = yield* fs.stat(env, file);
    const frames = Math.max(1, Math.ceil(Math.min(size, chunk) / fs.PAGE));
    // 1. The client supplies the memory.
    const container = yield* physmem.create(env, { frames });
    yield* env.trace(`002 step 1: client: container_create(${counted(frames, 'frame')}) => container ${container}`);
    let crc = 0;
    const kept = keep ? new Uint8Array(size) : null;
    for (let offset = 0; offset < size; offset += chunk) {
      const got = yield* fs.read(env, file, offset, chunk, container);
      // 10. The client copies the data out of its container.
      yield* physmem.map(env, container, 0, Math.ceil(got / fs.PAGE), WINDOW, Rights.Read);
      const bytes = yield* env.readBytes(WINDOW, got);
      crc = crc32(bytes, crc);
      kept?.set(bytes, offset);
      yield* env.trace(`002 step 10: client: copied ${got} bytes from container ${container}`);
    }
    yield* physmem.destroy(env, container);
    yield* env.trace(`002 step 10: client: container ${container} deallocated`);
    yield* fs.close(env, file);
    return { crc, size, bytes: kept };
  }

  const hex = (n: number): string => n.toString(16).padStart(8, '0');
  const small = yield* readFile(text, true);
  yield* print(env, `file-read: ${text} (${small.size} bytes): ${decodeUtf8(small.bytes!).trimEnd()}\n`);
  const before = yield* deva.stats(env, driver);
  const cold = yield* readFile(path, false);
  const between = yield* deva.stats(env, driver);
  yield* print(env, `file-read: ${path}: ${cold.size} bytes, crc32 ${hex(cold.crc)}, ${between.commands - before.commands} disk commands\n`);
  const warm = yield* readFile(path, false);
  const after = yield* deva.stats(env, driver);
  const stats = yield* fs.stats(env);
  yield* print(env, `file-read: ${path} again: crc32 ${hex(warm.crc)}, ${after.commands - between.commands} disk commands; the page cache holds ${stats.cachedPages} pages, ${stats.cacheHits} hits, ${stats.cacheMisses} misses\n`);
  return warm.crc === cold.crc ? 0 : 1;
});
