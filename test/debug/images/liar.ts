// liar: publishes introspections of the wrong shape where the debugger looks for libhurd-mm's
// (libhurd-mm/introspect.ts), and exports one that throws: `regions` and `containers` must say
// so in a line and go on, never fail with an internal error.
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { program } from '../../../servers/runtime.ts';

let calls = 0;
Object.defineProperty(globalThis, Symbol.for('l4hurd.introspect'), {
  value: () => {
    calls++;
    if (calls % 3 === 1) return { kind: 'libhurd-mm', tasks: [{ task: 9, mode: 'self', regions: 5 }] };
    const task = { task: 9, mode: 'self', policy: 'clock', thread: 1, container: 1, stats: null };
    if (calls % 3 === 2) return { kind: 'libhurd-mm', tasks: [{ ...task, regions: [{ start: 'x' }] }] };
    throw new Error('no introspection today');
  },
});

export default program(function* liar(env: ProgramEnv): Op<number> {
  for (let i = 0; i < 100; i++) yield* env.work(10);
  return 0;
});
