// stall: a program that runs for ever without letting the machine's clock move, in the way its
// command line names (test/boot/stall.test.ts). The step budget (tools/guest-context.ts) must
// stop each of them; `mode=progress` moves the clock on every round and must only be stopped by
// the cycle limit.
//   plain      for (;;) {}
//   catch      catches the StepLimitError and loops again, and again
//   work0      calls env.work(0) for ever: an environment call that takes no time
//   recurse    a recursion that calls itself twice under try/catch (a tree far too deep to end)
//   rebind     tries to replace the step hook through the global object first
//   progress   env.work(1) on every round: not a stall
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { commandLineOptions } from '../../../servers/runtime.ts';
import { readStartup } from '../../../servers/startup.ts';

export default function* stall(env: ProgramEnv): Op<void> {
  // No runtime: the command line is on the startup page, which this program does not need.
  const mode = commandLineOptions((yield* readStartup(env, env.sp))?.commandLine ?? '').mode ?? 'plain';
  yield* env.print(`stall: ${mode}\n`);
  let rounds = 0;
  switch (mode) {
    case 'plain':
      for (;;) rounds++;
    case 'catch':
      for (;;) {
        try {
          for (;;) rounds++;
        } catch {
          rounds++;
        }
      }
    case 'work0':
      for (;;) yield* env.work(0);
    case 'recurse': {
      const tree = (depth: number): number => {
        let n = 0;
        try {
          n += tree(depth + 1);
        } catch {
          n++;
        }
        try {
          n += tree(depth + 1);
        } catch {
          n++;
        }
        return n;
      };
      for (;;) rounds += tree(0);
    }
    case 'rebind': {
      const global = globalThis as unknown as Record<string, unknown>;
      const name = ['__l4hurd', 'step'].join('_');
      try {
        global[name] = () => undefined;
        Object.defineProperty(global, name, { value: () => undefined });
      } catch {
        // refused or not: the loop below must be stopped either way
      }
      for (;;) rounds++;
    }
    case 'progress':
      for (;;) yield* env.work(1);
    default:
      yield* env.print(`stall: unknown mode ${mode}\n`);
  }
}
