// The trust boundary (tools/guest-context.ts, README.md "Trust model"): a program module runs in
// an empty vm context with code generation off and no promises, blocking waits, garbage-collector
// observers or wall clock, and reaches the outside only through its program environment.
// Programs under test/boot/programs/ try the usual ways out, and raise exceptions with and
// without the runtime to catch them; the host process must not notice. What cannot run on the
// machine at all (async functions, import()) is refused by the builder and by the loader.

import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemModules } from '../support/system-modules.ts';
import { buildImage } from '../../tools/build.ts';
import { BuildError } from '../../tools/build.ts';
import { encodeImage, parseImage } from '../../tools/image.ts';
import { LoadError, bootImage, type BootResult } from '../../tools/loader.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BOOT_OPTIONS = { ramBytes: 32 * 1024 * 1024, maxCycles: 1e8 } as const;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'l4hurd-trust-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface ProgramModule {
  readonly name: string;
  readonly entry: string;
  readonly commandLine?: string;
}

/** Builds kernel + sigma0 + wortel + `programs` (entries relative to the project root). */
async function imageWith(configName: string, programs: readonly ProgramModule[]): Promise<Uint8Array> {
  const modules = [
    { name: 'kernel', kind: 'kernel', entry: join(ROOT, 'kernel/main.ts') },
    { name: 'sigma0', kind: 'sigma0', entry: join(ROOT, 'servers/sigma0.ts') },
    { name: 'wortel', kind: 'root', entry: join(ROOT, 'servers/wortel.ts') },
    ...programs.map((p) => ({ name: p.name, kind: 'program', entry: join(ROOT, p.entry), commandLine: p.commandLine })),
  ];
  const config = join(dir, `${configName}.json`);
  writeFileSync(config, JSON.stringify({ modules }));
  return buildImage(config);
}

/**
 * Boots `image` and gives the host's event loop a turn (anything a program queued there would
 * run), then checks that the host was left alone: its exit code, and no file besides the configs
 * in `dir`.
 */
async function bootAndCheckHost(image: Uint8Array): Promise<BootResult> {
  const exitCode = process.exitCode;
  const exit = process.exit;
  let result: BootResult;
  try {
    result = bootImage(image, BOOT_OPTIONS);
    await new Promise((done) => setTimeout(done, 50));
    expect(process.exitCode).toBe(exitCode);
    expect(process.exit).toBe(exit);
  } finally {
    process.exitCode = exitCode;
  }
  expect(readdirSync(dir).filter((name) => !name.endsWith('.json'))).toEqual([]);
  return result;
}

describe('the trust boundary', () => {
  it('README.md states the trust model', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/^## Trust model$/m);
    expect(readme).toContain('node:vm');
  });

  it("every attempt of a program to reach the host fails, and says so through env.print", async () => {
    const marker = join(dir, 'marker');
    const image = await imageWith('escape', [{ name: 'escape', entry: 'test/boot/programs/escape-attempts.ts', commandLine: `marker=${marker}` }]);
    const result = await bootAndCheckHost(image);
    const codeGeneration = 'EvalError: Code generation from strings disallowed for this context';
    const noClock = "TypeError: there is no wall clock on the machine (its time is the kernel's SystemClock)";
    const expected: ReadonlyArray<[string, string]> = [
      ['process', 'ReferenceError: process is not defined'],
      // esbuild's require shim finds no require in the context.
      ['require', 'Error: Dynamic require of "node:fs" is not supported'],
      ['setTimeout', 'ReferenceError: setTimeout is not defined'],
      ['globalThis.Buffer', "TypeError: Cannot read properties of undefined (reading 'from')"],
      ['eval', codeGeneration],
      ['new Function', codeGeneration],
      ['console.log', 'ReferenceError: console is not defined'],
      ['WebAssembly', "TypeError: Cannot read properties of undefined (reading 'Module')"],
      ["the environment's Function", codeGeneration],
      ["the environment's GeneratorFunction", codeGeneration],
      ['Promise', 'ReferenceError: Promise is not defined'],
      ['Atomics.wait', 'ReferenceError: Atomics is not defined'],
      ['WeakRef', 'ReferenceError: WeakRef is not defined'],
      ['FinalizationRegistry', 'ReferenceError: FinalizationRegistry is not defined'],
      ['Date.now', noClock],
      ['new Date()', noClock],
      ['Date()', noClock],
      ["a date's constructor", noClock],
      ['Intl.DateTimeFormat', 'TypeError: Intl.DateTimeFormat is not a constructor'],
    ];
    const lines = result.output.split('\n').filter((line) => line.startsWith('trust: '));
    const random = /^trust: Math\.random: (0\.\d{6}) (0\.\d{6})$/;
    expect(lines).toEqual([
      ...expected.map(([what, error]) => `trust: ${what}: refused (${error})`),
      expect.stringMatching(random),
      'trust: new Date(0): 1970-01-01T00:00:00.000Z',
      `trust: ${expected.length} attempts, 0 allowed`,
    ]);
    // Math.random is seeded from the module's name: the same numbers on every run.
    const [, a, b] = random.exec(lines[expected.length]!)!;
    expect(a).not.toBe(b);
    const again = await bootAndCheckHost(image);
    expect(again.output).toBe(result.output);
    expect(existsSync(marker)).toBe(false);
    expect(result.output).toContain('wortel: escape exited with status 0\n');
    expect(result.exitStatus).toBe(0);
    expect(result.output).not.toContain('halted');
  });

  it('process.exit(1) inside main: the runtime catches the ReferenceError and reports status 1', async () => {
    const image = await imageWith('exit-in-main', [
      { name: 'exit-in-main', entry: 'test/boot/programs/exit-in-main.ts' },
      { name: 'hello', entry: 'servers/demo/hello.ts' },
    ]);
    const result = await bootAndCheckHost(image);
    expect(result.output).toContain('exit-in-main: calling process.exit(1)\nexit-in-main: error: process is not defined\n');
    expect(result.output).toContain('wortel: exit-in-main exited with status 1\n');
    expect(result.output).toContain('wortel: hello exited with status 0\n');
    expect(result.output).toContain('wortel: all programs done, shutting down with status 1\n');
    expect(result.output).not.toContain('halted');
    expect(result.run.reason).toBe('shutdown');
    expect(result.exitStatus).toBe(1);
    expect(result.kernel.counters.threadsHalted).toBe(0);
  });

  it('process.exit(1) with nothing to catch it: the kernel halts the thread, wortel waits, the boot ends idle', async () => {
    const image = await imageWith('exit-raw', [
      { name: 'exit-raw', entry: 'test/boot/programs/exit-raw.ts' },
      { name: 'hello', entry: 'servers/demo/hello.ts' },
    ]);
    const result = await bootAndCheckHost(image);
    expect(result.output).toContain('exit-raw: calling process.exit(1)\nkernel: thread 1000.1 halted: program raised ReferenceError: process is not defined\n');
    // The other program runs on and exits; wortel never hears from exit-raw, so it never shuts down.
    expect(result.output).toContain('wortel: hello exited with status 0\n');
    expect(result.output).not.toContain('exit-raw exited');
    expect(result.output).not.toContain('all programs done');
    expect(result.output).toMatch(/laden: the system went idle without shutting down \(\d+ cycles\); its threads:\n(laden: {3}.*\n)*$/);
    expect(result.output).toContain('laden:   1000.1: halted\n');
    expect(result.run.reason).toBe('idle');
    expect(result.exitStatus).toBe(4);
    expect(result.kernel.counters.threadsHalted).toBe(1);
    expect(result.kernel.checkInvariants()).toEqual([]);
  });

  const unrunnable: ReadonlyArray<[string, string, RegExp]> = [
    ['import()', "export default function* main() {\n  const name = 'node:fs';\n  void import(name);\n}\n", /uses import\(\): programs cannot load modules \(line \d+, column \d+ of the bundle, in [^)]*unrunnable-0\.ts\)$/],
    ['an async function', 'export default function* main() {\n  const later = async () => 1;\n  void later;\n}\n', /uses an async function: programs are synchronous \(line \d+, column \d+ of the bundle, in [^)]*unrunnable-1\.ts\)$/],
  ];
  unrunnable.forEach(([what, source, message], i) => {
    it(`a program using ${what} fails to build, and an image carrying one anyway is refused by the loader`, async () => {
      const entry = join(dir, `unrunnable-${i}.ts`);
      writeFileSync(entry, source);
      const config = join(dir, `unrunnable-${i}.json`);
      const system = systemModules();
      writeFileSync(config, JSON.stringify({ modules: [...system, { name: 'bad', kind: 'program', entry }] }));
      const failure = await buildImage(config).then(() => null, (error: unknown) => error);
      expect(failure).toBeInstanceOf(BuildError);
      expect((failure as Error).message).toMatch(new RegExp(`^module bad: ${message.source}`));
      // The same bundle in an image made by hand: the loader refuses it before anything runs.
      writeFileSync(config, JSON.stringify({ modules: system }));
      const modules = parseImage(await buildImage(config));
      const bundle = new TextEncoder().encode(`var l4hurdModule = { default: function* () { ${what === 'import()' ? "import('node:fs');" : 'const f = async () => 1;'} } };`);
      const image = encodeImage([...modules, { name: 'bad', kind: 'program', commandLine: '', payload: bundle }]);
      expect(() => bootImage(image, BOOT_OPTIONS)).toThrow(LoadError);
      expect(() => bootImage(image, BOOT_OPTIONS)).toThrow(/^module bad: uses (import\(\)|an async function)/);
    });
  });
});
