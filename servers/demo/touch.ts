// touch: writes `pages=N` consecutive pages from 0x10000000 and reads them back. Every first
// write faults to the task's pager (wortel), which maps a fresh page with a map item.
import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { commandLineOptions, numberOption, print, program } from '../runtime.ts';

const BASE = 0x10000000;

export default program(function* touch(env: ProgramEnv, args: string): Op<number> {
  const pages = numberOption(commandLineOptions(args), 'pages', 64);
  for (let i = 0; i < pages; i++) yield* env.write32(BASE + i * 4096, i * 3);
  let sum = 0;
  for (let i = 0; i < pages; i++) sum += yield* env.read32(BASE + i * 4096);
  const expected = (3 * pages * (pages - 1)) / 2;
  yield* print(env, `touch: ${pages} pages written and read back, sum ${sum}\n`);
  return sum === expected ? 0 : 1;
});
