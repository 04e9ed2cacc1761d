// hello: prints its command line and exits 0. The smallest program module.
import type { Op, ProgramEnv } from '../../libl4/abi.ts';
import { print, program } from '../runtime.ts';

export default program(function* hello(env: ProgramEnv, args: string): Op<number> {
  yield* print(env, `hello: hello, world${args ? ` (${args})` : ''}\n`);
  return 0;
});
