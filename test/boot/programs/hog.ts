// hog: a program that allocates host memory without bound while it keeps the clock moving, so
// the step budget never stops it (test/boot/cli-robustness.test.ts): `mode=heap` in JavaScript
// arrays (the machine thread's heap limit), `mode=buffers` in typed arrays, which live outside
// that heap (the resident-memory watch). `l4hurd run` must end with exit status 5.
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { commandLineOptions, print, program } from '../../../servers/runtime.ts';

export default program(function* hog(env: ProgramEnv, args: string): Op<number> {
  const mode = commandLineOptions(args).mode ?? 'heap';
  yield* print(env, `hog: allocating (${mode})\n`);
  const kept: unknown[] = [];
  for (;;) {
    kept.push(mode === 'buffers' ? new Uint8Array(16 * 1024 * 1024).fill(kept.length) : new Array(65536).fill(kept.length));
    yield* env.work(1);
  }
});
