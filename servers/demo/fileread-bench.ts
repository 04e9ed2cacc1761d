// fileread-bench: the loops `l4hurd bench` times for the file server, between two console
// markers: path= (default /bench.bin) read whole in reads of chunk= bytes (default 65536), each
// copied out of the client's container as 002 step 10 has it.
//   mode=cold              once, the page cache empty: every page comes off the disk
//   mode=cached rounds=R   once untimed (the cache fills), then R times timed: every page
//                          is a copy-on-write copy of the cache's frame, no disk command
import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { Rights } from '../../libl4/fpage.ts';
import * as fs from '../ext2fs/client.ts';
import * as physmem from '../physmem/client.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';

export const FILEREAD_BENCH_START = 'fileread-bench: start\n';
export const FILEREAD_BENCH_END = 'fileread-bench: end\n';
const WINDOW = 0x20000000;

export default program(function* filereadBench(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const chunk = numberOption(options, 'chunk', 65536);
  const rounds = numberOption(options, 'rounds', 4);
  const file = yield* fs.open(env, options.path ?? '/bench.bin');
  const { size } = yield* fs.stat(env, file);
  const frames = Math.ceil(chunk / 4096);
  const container = yield* physmem.create(env, { frames });
  let copied = 0;
  function* pass(): Op<void> {
    for (let offset = 0; offset < size; offset += chunk) {
      const got = yield* fs.read(env, file, offset, chunk, container);
      yield* physmem.map(env, container, 0, Math.ceil(got / 4096), WINDOW, Rights.Read);
      copied += (yield* env.readBytes(WINDOW, got)).length;
    }
  }
  if (options.mode === 'cached') {
    yield* pass();
    yield* print(env, FILEREAD_BENCH_START);
    for (let r = 0; r < rounds; r++) yield* pass();
  } else {
    yield* print(env, FILEREAD_BENCH_START);
    yield* pass();
  }
  yield* print(env, FILEREAD_BENCH_END);
  const stats = yield* fs.stats(env);
  return stats.ioErrors === 0 && copied === size * (options.mode === 'cached' ? rounds + 1 : 1) ? 0 : 1;
});
