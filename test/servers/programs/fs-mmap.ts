// A self-paging task that maps a file (libhurd-mm's file-backed regions) and reads it through
// the mapping, for test/servers/file-read.test.ts. role=first maps path= and reads it, then waits
// for the second to say it is done; role=second (after sleep-us=) does the same, then says
// `both mapped` as a trace point (the test looks at physmem's frames then) and tells the first.
// Lines start with `mmap: `.
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { Rights } from '../../../libl4/fpage.ts';
import * as mm from '../../../libhurd-mm/index.ts';
import { crc32 } from '../../../servers/crc32.ts';
import * as fs from '../../../servers/ext2fs/client.ts';
import { commandLineOptions, numberOption, print, program } from '../../../servers/runtime.ts';
import * as task from '../../../servers/task/client.ts';
import { answer, ask, next, refusal, sleep } from './common.ts';

export default program(function* fsMmap(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const role = options.role ?? 'first';
  const path = options.path ?? '/data.bin';
  if (role === 'second') yield* sleep(env, numberOption(options, 'sleep-us', 100_000));
  yield* mm.startPager(env, { guarantee: 32 });
  const file = yield* fs.open(env, path);
  const { size } = yield* fs.stat(env, file);
  const before = yield* fs.stats(env);
  const address = yield* mm.mmap(env, { file, size, rights: Rights.Read });
  const bytes = yield* env.readBytes(address, size);
  const after = yield* fs.stats(env);
  const stats = yield* mm.stats(env);
  yield* print(env, `mmap: ${role}: ${size} bytes at 0x${address.toString(16)}, crc32 ${crc32(bytes).toString(16).padStart(8, '0')}, ${stats.pageIns} pages in, cache hits ${after.cacheHits - before.cacheHits} misses ${after.cacheMisses - before.cacheMisses}\n`);
  yield* print(env, `mmap: ${role}: write ${yield* refusal(mm.mprotect(env, address, 4096, Rights.ReadWrite))}, unaligned ${yield* refusal(mm.mmap(env, { file, size, offset: 100, rights: Rights.Read }))}, writable ${yield* refusal(mm.mmap(env, { file, size, rights: Rights.ReadWrite }))}, bad file ${yield* refusal(mm.mmap(env, { file: 999, size, rights: Rights.Read }))}\n`);
  if (role === 'second') {
    yield* env.trace('fs-mmap: both mapped');
    yield* ask(env, yield* task.lookup(env, options.first ?? 'first'), [1]);
  } else {
    const done = yield* next(env);
    yield* answer(env, done.from, []);
  }
  yield* mm.munmap(env, address, size);
  return 0;
});
