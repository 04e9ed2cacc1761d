// Every l4hurd command against a table of bad arguments, files and output targets: each ends
// with its documented exit status and at most a message line (and the command's synopsis after
// a usage error) on stderr, and no line of its output looks like a host stack frame. Also the
// hazards that used to hang or exhaust the host: /dev/zero as an image, a config or a data
// module, a program that allocates without bound, a program that loops without calling its
// environment.

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemModules } from '../support/system-modules.ts';
import { encodeImage, parseImage } from '../../tools/image.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'bin/l4hurd.mjs');

/** A line as V8 prints a stack frame ("    at f (file.js:1:2)", "    at file.js:1:2"). */
const STACK_FRAME = /^\s*at\s+(?:\S.*\(.*:\d+:\d+\)|\S+:\d+:\d+|.*\(native\)|.*node:internal)/;

interface Outcome {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

type Target = 'pipe' | 'full' | 'closed';

/** Runs `l4hurd args`, its standard output going to a pipe, /dev/full or a pipe closed at once. */
function l4hurd(args: readonly string[], target: Target = 'pipe'): Promise<Outcome> {
  return new Promise((done, fail) => {
    const full = target === 'full' ? openSync('/dev/full', 'w') : undefined;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', full ?? 'pipe', 'pipe'] });
    if (full !== undefined) closeSync(full);
    let stdout = '';
    let stderr = '';
    if (target === 'closed') child.stdout!.destroy();
    else child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', fail);
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

let temp = '';
let hello = '';
let big = '';
const path = (name: string): string => join(temp, name);

beforeAll(async () => {
  temp = mkdtempSync(join(tmpdir(), 'l4hurd-robust-'));
  hello = path('hello.img');
  big = path('default.img');
  for (const [config, out] of [[join(ROOT, 'test/boot/images/hello.json'), hello], [join(ROOT, 'images/default.json'), big]] as const) {
    const built = await l4hurd(['build', '--config', config, '--out', out]);
    expect(built.status, built.stderr).toBe(0);
  }
  const system = systemModules();
  const config = (name: string, extra: object[]): void => writeFileSync(path(name), JSON.stringify({ modules: [...system, ...extra] }));
  writeFileSync(path('null.json'), 'null');
  writeFileSync(path('array.json'), '[]');
  writeFileSync(path('modules-5.json'), '{ "modules": 5 }');
  writeFileSync(path('not-json.json'), '{ "modules": [');
  writeFileSync(path('latin1.json'), new Uint8Array([0x7b, 0xe9, 0x7d]));
  mkdirSync(path('a-directory'));
  execFileSync('mkfifo', [path('fifo.img')]);
  config('zero-data.json', [{ name: 'zero', kind: 'data', file: '/dev/zero' }]);
  config('directory-data.json', [{ name: 'dir', kind: 'data', file: path('a-directory') }]);
  config('zero-entry.json', [{ name: 'zero', kind: 'program', entry: '/dev/zero' }]);
  symlinkSync('/dev/zero', path('zero.ts'));
  writeFileSync(path('imports-zero.ts'), "import './zero.ts';\nexport default function* main() {}\n");
  config('zero-import.json', [{ name: 'zi', kind: 'program', entry: path('imports-zero.ts') }]);
  writeFileSync(path('truncated.img'), readFileSync(hello).subarray(0, 5000));
  writeFileSync(path('syntax.ts'), 'export default function* main() {\n  const x = ;\n}\n');
  writeFileSync(path('typed.ts'), "export default function* main() {\n  const n: number = 'one';\n  return n;\n}\n");
  writeFileSync(path('async.ts'), 'export default function* main() {\n  const later = async () => 1;\n  void later;\n}\n');
  writeFileSync(path('notes.txt'), 'not a program\n');
  writeFileSync(path('locked.img'), readFileSync(hello));
  // hello's image with a kernel that fails once it runs.
  const failing = 'var l4hurdModule = { Kernel: class { constructor() { this.text = { codeAddress: () => 0 }; } run() { throw new TypeError("the kernel broke\\nover two lines"); } } };';
  writeFileSync(path('failing-kernel.img'), encodeImage(parseImage(new Uint8Array(readFileSync(hello))).map((m) => (m.kind === 'kernel' ? { ...m, payload: new TextEncoder().encode(failing) } : m))));
  chmodSync(path('locked.img'), 0);
}, 120_000);

afterAll(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
});

interface Case {
  readonly what: string;
  readonly args: () => string[];
  readonly target?: Target;
  readonly status: number;
  /** The first line of stderr ('' for none). */
  readonly message: RegExp | '';
  /** Lines stdout must contain. */
  readonly stdout?: RegExp;
}

const BAD_SIZE = /^l4hurd boot: --ram 1x: give bytes, or a number with K, M or G$/;
const CASES: readonly Case[] = [
  // boot: bad arguments, images that cannot be read or booted, output that cannot be written
  { what: 'boot an unknown option', args: () => ['boot', hello, '--frob'], status: 2, message: /^l4hurd boot: unknown option '--frob'$/ },
  { what: 'boot a bad size', args: () => ['boot', hello, '--ram', '1x'], status: 2, message: BAD_SIZE },
  { what: 'boot too little RAM', args: () => ['boot', hello, '--ram', '4M'], status: 2, message: /^l4hurd boot: 4194304 bytes of RAM is too little/ },
  { what: 'boot too little host memory', args: () => ['boot', hello, '--host-memory', '1M'], status: 2, message: /^l4hurd boot: --host-memory 1M: at least 16M is needed$/ },
  { what: 'boot a missing image', args: () => ['boot', path('none.img')], status: 2, message: /^l4hurd boot: cannot read the image .*none\.img: no such file or directory$/ },
  { what: 'boot a directory', args: () => ['boot', temp], status: 2, message: /^l4hurd boot: cannot read the image .*: it is a directory$/ },
  { what: 'boot /dev/zero', args: () => ['boot', '/dev/zero'], status: 2, message: /^l4hurd boot: cannot read the image \/dev\/zero: not a regular file \(a character device\)$/ },
  { what: 'boot a FIFO', args: () => ['boot', path('fifo.img')], status: 2, message: /^l4hurd boot: cannot read the image .*fifo\.img: not a regular file \(a FIFO\)$/ },
  { what: 'build --config a FIFO', args: () => ['build', '--config', path('fifo.img'), '--out', path('x.img')], status: 2, message: /^l4hurd build: cannot read the image config .*fifo\.img: not a regular file \(a FIFO\)$/ },
  { what: 'build --out a FIFO nobody reads', args: () => ['build', '--config', join(ROOT, 'test/boot/images/hello.json'), '--out', path('fifo.img')], status: 2, message: /^l4hurd build: cannot write the image .*fifo\.img: a FIFO with no reader$/ },
  { what: 'boot a config that is not one', args: () => ['boot', path('null.json')], status: 2, message: /^l4hurd boot: .*null\.json: not an image config: a JSON object with a "modules" list is needed$/ },
  { what: 'debug a config that does not parse', args: () => ['debug', path('not-json.json'), '--batch'], status: 2, message: /^l4hurd debug: .*not-json\.json: / },
  { what: 'boot a truncated image', args: () => ['boot', path('truncated.img')], status: 2, message: /^l4hurd boot: image truncated: header says \d+ bytes, file has 5000$/ },
  { what: 'boot an image whose kernel fails', args: () => ['boot', path('failing-kernel.img')], status: 7, message: /^l4hurd boot: kernel failure: TypeError: the kernel broke$/, stdout: /^laden: starting the kernel$/m },
  { what: 'boot > /dev/full', args: () => ['boot', hello], target: 'full', status: 6, message: /^l4hurd boot: cannot write to standard output: no space left on the device$/ },
  { what: 'boot --json > /dev/full', args: () => ['boot', hello, '--json'], target: 'full', status: 6, message: /^l4hurd boot: cannot write to standard output: no space left on the device$/ },
  { what: 'boot --trace all | a closed pipe', args: () => ['boot', big, '--trace', 'all'], target: 'closed', status: 6, message: '' },
  // run: programs that cannot be built, and programs that misbehave
  { what: 'run without a program', args: () => ['run'], status: 2, message: /^l4hurd run: a program to run is needed/ },
  { what: 'run a missing program', args: () => ['run', path('none.ts')], status: 2, message: /^l4hurd run: module none: .*none\.ts/ },
  { what: 'run a file that is not a program', args: () => ['run', path('notes.txt')], status: 2, message: /^l4hurd run: .*notes\.txt: a TypeScript file \(\.ts\) is needed$/ },
  { what: 'run a syntax error', args: () => ['run', path('syntax.ts')], status: 2, message: /^l4hurd run: module syntax: .*syntax\.ts:2:\d+: / },
  { what: 'run a type error', args: () => ['run', path('typed.ts')], status: 2, message: /^l4hurd run: type error: .*typed\.ts\(2,\d+\): error TS2322/ },
  { what: 'run an async function', args: () => ['run', path('async.ts')], status: 2, message: /^l4hurd run: module async: uses an async function: programs are synchronous \(line \d+, column \d+ of the bundle, in .*async\.ts\)$/ },
  { what: 'run arguments that do not fit a command line', args: () => ['run', join(ROOT, 'servers/demo/hello.ts'), 'x'.repeat(80)], status: 2, message: /^l4hurd run: the program's arguments take 80 bytes; a command line holds at most 79$/ },
  {
    what: 'run a program that allocates JavaScript arrays without bound',
    args: () => ['run', '--host-memory', '64M', '--ram', '16M', join(ROOT, 'test/boot/programs/hog.ts'), 'mode=heap'],
    status: 5,
    message: /^l4hurd run: the machine ran out of host memory: its JavaScript heap reached the 64 MiB of --host-memory \(a program allocating without bound\?\)$/,
    stdout: /^hog: allocating \(heap\)$/m,
  },
  {
    what: 'run a program that allocates typed arrays without bound',
    args: () => ['run', '--host-memory', '64M', '--ram', '16M', join(ROOT, 'test/boot/programs/hog.ts'), 'mode=buffers'],
    status: 5,
    message: /^l4hurd run: the machine ran out of host memory: the process grew to \d+ MiB, past its RAM \(16 MiB\), --host-memory \(64 MiB\) and 256 MiB for l4hurd itself \(a program allocating without bound\?\)$/,
    stdout: /^hog: allocating \(buffers\)$/m,
  },
  // build: configs, data files and sources that are not what they should be, outputs that cannot be written
  { what: 'build a config that is null', args: () => ['build', '--config', path('null.json'), '--out', path('x.img')], status: 2, message: /^l4hurd build: .*null\.json: not an image config: a JSON object with a "modules" list is needed$/ },
  { what: 'build a config that is a list', args: () => ['build', '--config', path('array.json'), '--out', path('x.img')], status: 2, message: /^l4hurd build: .*array\.json: not an image config/ },
  { what: 'build a config whose modules are a number', args: () => ['build', '--config', path('modules-5.json'), '--out', path('x.img')], status: 2, message: /^l4hurd build: .*modules-5\.json: "modules" must be a non-empty list$/ },
  { what: 'build a config that is not JSON', args: () => ['build', '--config', path('not-json.json'), '--out', path('x.img')], status: 2, message: /^l4hurd build: .*not-json\.json: not valid JSON: / },
  { what: 'build a config that is not UTF-8', args: () => ['build', '--config', path('latin1.json'), '--out', path('x.img')], status: 2, message: /^l4hurd build: cannot read the image config .*latin1\.json: not UTF-8 text$/ },
  { what: 'build a config that is /dev/zero', args: () => ['build', '--config', '/dev/zero', '--out', path('x.img')], status: 2, message: /^l4hurd build: cannot read the image config \/dev\/zero: not a regular file \(a character device\)$/ },
  { what: 'build a config that is a directory', args: () => ['build', '--config', temp, '--out', path('x.img')], status: 2, message: /^l4hurd build: cannot read the image config .*: it is a directory$/ },
  { what: 'build a data module from /dev/zero', args: () => ['build', '--config', path('zero-data.json'), '--out', path('x.img')], status: 2, message: /^l4hurd build: module zero: cannot read the data file \/dev\/zero: not a regular file \(a character device\)$/ },
  { what: 'build a data module from a directory', args: () => ['build', '--config', path('directory-data.json'), '--out', path('x.img')], status: 2, message: /^l4hurd build: module dir: cannot read the data file .*a-directory: it is a directory$/ },
  { what: 'build an entry point that is /dev/zero', args: () => ['build', '--config', path('zero-entry.json'), '--out', path('x.img')], status: 2, message: /^l4hurd build: module zero: cannot read \/dev\/zero: not a regular file$/ },
  { what: 'build a program importing /dev/zero', args: () => ['build', '--config', path('zero-import.json'), '--out', path('x.img')], status: 2, message: /^l4hurd build: module zi: \/.*imports-zero\.ts:1:\d+: cannot read \/dev\/zero: not a regular file$/ },
  { what: 'build --out an existing directory', args: () => ['build', '--config', join(ROOT, 'test/boot/images/hello.json'), '--out', temp], status: 2, message: /^l4hurd build: cannot write the image .*: it is a directory$/ },
  { what: 'build --out /dev/full', args: () => ['build', '--config', join(ROOT, 'test/boot/images/hello.json'), '--out', '/dev/full'], status: 2, message: /^l4hurd build: cannot write the image \/dev\/full: no space left on the device$/ },
  { what: 'build --out inside a file', args: () => ['build', '--config', join(ROOT, 'test/boot/images/hello.json'), '--out', join(hello, 'x.img')], status: 2, message: /^l4hurd build: cannot write the image .*: a component of the path is not a directory$/ },
  { what: 'build --out the config itself', args: () => ['build', '--config', path('null.json'), '--out', path('null.json')], status: 2, message: /^l4hurd build: --out .*null\.json would overwrite the config$/ },
  { what: 'build > /dev/full', args: () => ['build', '--config', join(ROOT, 'test/boot/images/hello.json'), '--out', path('y.img')], target: 'full', status: 6, message: /^l4hurd build: cannot write to standard output: no space left on the device$/ },
  // demo, bench, help, version
  { what: 'demo an unknown profile', args: () => ['demo', '--profile', 'z80'], status: 2, message: /^l4hurd demo: unknown CPU profile 'z80': known profiles are i486, p3$/ },
  { what: 'demo an argument', args: () => ['demo', 'now'], status: 2, message: /^l4hurd demo: unexpected argument 'now'$/ },
  { what: 'demo > /dev/full', args: () => ['demo'], target: 'full', status: 6, message: /^l4hurd demo: cannot write to standard output: no space left on the device$/ },
  { what: 'bench an argument', args: () => ['bench', 'fast'], status: 2, message: /^l4hurd bench: unexpected argument 'fast'$/ },
  { what: 'bench --json with a value', args: () => ['bench', '--json=yes'], status: 2, message: /^l4hurd bench: option --json takes no value$/ },
  { what: 'help about nothing known', args: () => ['help', 'frob'], status: 2, message: /^l4hurd help: no command 'frob'$/ },
  { what: 'help > /dev/full', args: () => ['help'], target: 'full', status: 6, message: /^l4hurd help: cannot write to standard output: no space left on the device$/ },
  { what: '--help > /dev/full', args: () => ['boot', '--help'], target: 'full', status: 6, message: /^l4hurd boot: cannot write to standard output: no space left on the device$/ },
  { what: '--version > /dev/full', args: () => ['--version'], target: 'full', status: 6, message: /^l4hurd: cannot write to standard output: no space left on the device$/ },
  { what: 'an unknown command', args: () => ['frob'], status: 2, message: /^l4hurd: unknown command 'frob'$/ },
];

describe.concurrent('l4hurd with bad arguments, files and output targets', () => {
  for (const c of CASES) {
    it(`${c.what}: exit status ${c.status}, ${c.message ? 'one line on stderr' : 'nothing on stderr'}, no stack trace`, async () => {
      const run = await l4hurd(c.args(), c.target);
      for (const line of `${run.stdout}\n${run.stderr}`.split('\n')) expect(line, `${c.what}: ${line}`).not.toMatch(STACK_FRAME);
      expect(run.status, `${c.what}: ${run.stderr}`).toBe(c.status);
      const lines = run.stderr.split('\n').filter((line) => line !== '');
      if (c.message === '') expect(lines).toEqual([]);
      else {
        expect(lines[0], run.stderr).toMatch(c.message);
        // After a usage error, the command's synopsis (or the overview, without a command).
        if (lines.length > 1) expect(lines[1]).toMatch(/^usage: l4hurd /);
        if (!/^usage: l4hurd <command>/.test(lines[1] ?? '')) expect(lines.length, run.stderr).toBeLessThanOrEqual(2);
      }
      if (c.stdout) expect(run.stdout).toMatch(c.stdout);
    });
  }

  it('an image that cannot be read for want of permission says so (where permissions apply: not to root)', async () => {
    let readable = true;
    try {
      readFileSync(path('locked.img'));
    } catch {
      readable = false;
    }
    const run = await l4hurd(['boot', path('locked.img')]);
    if (readable) expect(run.status, run.stderr).toBe(0);
    else {
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(/^l4hurd boot: cannot read the image .*locked\.img: permission denied\n$/);
    }
  });

  it('a build that fails leaves the image that was there before untouched', async () => {
    const out = path('kept.img');
    writeFileSync(out, 'the previous image');
    const run = await l4hurd(['build', '--config', path('zero-data.json'), '--out', out]);
    expect(run.status).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('the previous image');
  });

  it('a program that loops without calling its environment is halted, and the boot ends', async () => {
    const run = await l4hurd(['run', '--json', join(ROOT, 'test/boot/programs/stall.ts'), 'mode=plain']);
    // Its first thread: 1000 + its place among the programs, version = its task (1 in a bare image).
    expect(run.stdout).toMatch(/stall: plain\nkernel: thread 10\d\d\.\d+ halted: program raised StepLimitError: ran 10000000 steps while the clock stood still/);
    expect(run.status).not.toBe(0);
    expect(JSON.parse(run.stdout.trimEnd().split('\n').pop()!).exitStatus).toBe(run.status);
  });
});
