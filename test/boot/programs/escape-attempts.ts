// escape-attempts: a program module that tries, each inside try/catch, to reach the host the
// loader runs in (test/boot/trust.test.ts). Each attempt prints one line:
//   trust: <what>: refused (<error>)    it threw, as it should
//   trust: <what>: ALLOWED <detail>     it worked: the trust boundary leaks
// and the program exits with the number of attempts that worked. A successful attempt writes the
// file named by `marker=PATH` (or sets the host's process.exitCode), which the test looks for.
import type { Op, ProgramEnv } from '../../../libl4/abi.ts';
import { commandLineOptions, program } from '../../../servers/runtime.ts';

type Writer = { writeFileSync(path: string, data: string): void };

export default program(function* escapeAttempts(env: ProgramEnv, args: string): Op<number> {
  const marker = commandLineOptions(args).marker ?? '/tmp/l4hurd-trust-marker';
  // Built at run time, so that esbuild leaves the module names alone.
  const fsName = ['node', 'fs'].join(':');
  const attempts: Array<[string, () => unknown]> = [
    ['process', () => {
      process.exitCode = 99;
      return process.pid;
    }],
    ['require', () => (require(fsName) as Writer).writeFileSync(marker, 'require')],
    ['setTimeout', () => setTimeout(() => undefined, 0)],
    ['globalThis.Buffer', () => (globalThis as unknown as { Buffer: { from(text: string): unknown } }).Buffer.from('escape')],
    ['eval', () => globalThis.eval('1 + 1')],
    ['new Function', () => new Function('return 1 + 1')()],
    ['console.log', () => console.log('trust: console.log reached the host')],
    ['WebAssembly', () => {
      const wasm = (globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => unknown } }).WebAssembly;
      return new wasm.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    }],
    // The environment's functions come from the kernel's context: their Function is refused too.
    ["the environment's Function", () => (env.codeAddress as unknown as { constructor: FunctionConstructor }).constructor('return process')()],
    ["the environment's GeneratorFunction", () => (env.read32 as unknown as { constructor: FunctionConstructor }).constructor('yield process')().next()],
    // Promises: nothing would run their continuations, and a rejected one reaches the host.
    ['Promise', () => Promise.reject(new Error('rejected'))],
    // A blocking wait would stop the host thread.
    ['Atomics.wait', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)],
    // What the host's garbage collector did.
    ['WeakRef', () => new WeakRef({}).deref()],
    ['FinalizationRegistry', () => new FinalizationRegistry(() => undefined)],
    // The wall clock.
    ['Date.now', () => Date.now()],
    ['new Date()', () => new Date()],
    ['Date()', () => (Date as unknown as () => string)()],
    ["a date's constructor", () => new (new Date(0).constructor as DateConstructor)()],
    ['Intl.DateTimeFormat', () => new Intl.DateTimeFormat().format()],
  ];
  let allowed = 0;
  for (const [what, attempt] of attempts) {
    try {
      const result = attempt();
      allowed++;
      yield* env.print(`trust: ${what}: ALLOWED ${typeof result}\n`);
    } catch (error) {
      yield* env.print(`trust: ${what}: refused (${describe(error)})\n`);
    }
  }
  // What remains is deterministic: Math.random is seeded, a date from a given time works.
  yield* env.print(`trust: Math.random: ${[Math.random(), Math.random()].map((x) => x.toFixed(6)).join(' ')}\n`);
  yield* env.print(`trust: new Date(0): ${new Date(0).toISOString()}\n`);
  yield* env.print(`trust: ${attempts.length} attempts, ${allowed} allowed\n`);
  return allowed;
});

function describe(error: unknown): string {
  return error instanceof Object && 'name' in error && 'message' in error ? `${String(error.name)}: ${String(error.message)}` : String(error);
}
