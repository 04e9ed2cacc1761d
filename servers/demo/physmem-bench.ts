// physmem-bench: the loops `l4hurd bench` times, between two console markers.
//   mode=map pages=P rounds=R   maps a container of P frames (filled once) R times into the
//                               task: P * R pages mapped, each a map request continued until
//                               all P are in (runs of frames go as large map items)
//   mode=cow pages=P rounds=R   copies a container of P written frames copy-on-write into
//                               another, then writes every page of the copy: R * P faults that
//                               each break copy-on-write (a fault, the default pager, physmem
//                               copies the frame and maps it)
import { Rights } from '../../libl4/fpage.ts';
import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import * as physmem from '../physmem/client.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';

export const PHYSMEM_BENCH_START = 'physmem-bench: start\n';
export const PHYSMEM_BENCH_END = 'physmem-bench: end\n';
const SOURCE = 0x20000000;
const COPY = 0x30000000;

export default program(function* physmemBench(env: ProgramEnv, args: string): Op<number> {
  const options = commandLineOptions(args);
  const pages = numberOption(options, 'pages', 256);
  const rounds = numberOption(options, 'rounds', 10);
  const source = yield* physmem.create(env, { frames: pages });
  yield* physmem.map(env, source, 0, pages, SOURCE, Rights.ReadWrite);
  if (options.mode === 'cow') {
    for (let i = 0; i < pages; i++) yield* env.write32(SOURCE + i * 4096, 0x80000000 + i);
    const copy = yield* physmem.create(env, { frames: pages });
    yield* physmem.map(env, copy, 0, pages, COPY, Rights.ReadWrite);
    yield* print(env, PHYSMEM_BENCH_START);
    for (let round = 0; round < rounds; round++) {
      yield* physmem.copy(env, source, 0, copy, 0, pages);
      for (let i = 0; i < pages; i++) yield* env.write32(COPY + i * 4096 + 4, round);
    }
    yield* print(env, PHYSMEM_BENCH_END);
    let wrong = 0;
    for (let i = 0; i < pages; i++) if ((yield* env.read32(COPY + i * 4096)) !== 0x80000000 + i || (yield* env.read32(SOURCE + i * 4096 + 4)) !== 0) wrong++;
    return wrong === 0 ? 0 : 1;
  }
  yield* print(env, PHYSMEM_BENCH_START);
  for (let round = 0; round < rounds; round++) yield* physmem.map(env, source, 0, pages, SOURCE, Rights.ReadWrite);
  yield* print(env, PHYSMEM_BENCH_END);
  return 0;
});
