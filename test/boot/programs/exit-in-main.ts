// exit-in-main: calls process.exit(1) from main without catching (test/boot/trust.test.ts). There
// is no process in a module's context, so main raises a ReferenceError; the runtime catches it,
// prints it and reports status 1 to wortel.
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { program } from '../../../servers/runtime.ts';

export default program(function* exitInMain(env: ProgramEnv): Op<number> {
  yield* env.print('exit-in-main: calling process.exit(1)\n');
  process.exit(1);
});
