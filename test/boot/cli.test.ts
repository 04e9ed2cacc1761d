// The l4hurd command as a user runs it: the bundled CLI (node bin/l4hurd.mjs) in a child process,
// its exit statuses, stdout and stderr. Most spawns boot the small hello image, built once.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootImage } from '../../tools/loader.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(root, 'bin/l4hurd.mjs');
const helloConfig = join(root, 'test/boot/images/hello.json');
const COUNTER_NAMES = ['cycles', 'accesses', 'tlbHits', 'tlbMisses', 'pageWalks', 'pageFaults', 'ipcs', 'contextSwitches', 'exceptions', 'syscalls', 'exitStatus'];

let temp = '';
let hello = '';

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function l4hurd(args: readonly string[], cwd = root): Run {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lastLine(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines[lines.length - 1]!;
}

/** A failure reported as one line on stderr, starting `l4hurd <command>: `, with no stack trace. */
function expectOneLineError(run: Run, command: string, message: RegExp): void {
  expect(run.status, run.stderr).toBe(2);
  expect(run.stderr).toMatch(new RegExp(`^l4hurd ${command}: .+\\n$`));
  expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

/** A config with the kernel, sigma0 and wortel from the repository plus `extra` modules. */
function writeConfig(name: string, extra: readonly object[]): string {
  const path = join(temp, `${name}.json`);
  const modules = [
    { name: 'kernel', kind: 'kernel', entry: join(root, 'kernel/main.ts') },
    { name: 'sigma0', kind: 'sigma0', entry: join(root, 'servers/sigma0.ts') },
    { name: 'wortel', kind: 'root', entry: join(root, 'servers/wortel.ts') },
    ...extra,
  ];
  writeFileSync(path, JSON.stringify({ modules }, null, 2));
  return path;
}

// The CLI bundle is built once for the whole suite (test/global-setup.ts).
beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'l4hurd-cli-'));
  hello = join(temp, 'hello.img');
  const built = l4hurd(['build', '--config', helloConfig, '--out', hello]);
  expect(built.status, built.stderr).toBe(0);
}, 60_000);

afterAll(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
});

describe('l4hurd boot', () => {
  it('--json prints the console, then one JSON object with the stable names as its last line; exits 0', () => {
    const run = l4hurd(['boot', hello, '--json']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const counters = JSON.parse(lastLine(run.stdout)) as Record<string, number>;
    expect(Object.keys(counters)).toEqual(COUNTER_NAMES);
    for (const name of COUNTER_NAMES) expect(Number.isSafeInteger(counters[name]), name).toBe(true);
    expect(counters.exitStatus).toBe(0);
    expect(counters.cycles).toBeGreaterThan(0);
    // The same as booting the file in this process: output and counters, byte for byte.
    const inProcess = bootImage(new Uint8Array(readFileSync(hello)));
    expect(run.stdout).toBe(inProcess.output + JSON.stringify(inProcess.counters) + '\n');
    expect(run.stdout).toContain('hello: hello, world (from the hello image)\n');
  });

  it('without --json prints the counters as a table and exits 0', () => {
    const run = l4hurd(['boot', hello]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('\ncounters:\n');
    expect(run.stdout).toMatch(/^ {2}cycles {11}\d+$/m);
    expect(run.stdout).toMatch(/^ {2}exitStatus {7}0\n$/m);
  });

  it('--profile i486 boots too, with counters that differ from p3', () => {
    const p3 = l4hurd(['boot', hello, '--json', '--profile', 'p3']);
    const i486 = l4hurd(['boot', hello, '--json', '--profile', 'i486']);
    expect(p3.status, p3.stderr).toBe(0);
    expect(i486.status, i486.stderr).toBe(0);
    expect(p3.stdout).toContain('CPU p3\n');
    expect(i486.stdout).toContain('CPU i486\n');
    expect(i486.stdout).toContain('hello: hello, world (from the hello image)\n');
    const a = JSON.parse(lastLine(p3.stdout)) as Record<string, number>;
    const b = JSON.parse(lastLine(i486.stdout)) as Record<string, number>;
    expect(b.exitStatus).toBe(0);
    expect(b).not.toEqual(a);
    expect(b.cycles).not.toBe(a.cycles);
  });

  it('--max-cycles 1000 stops the machine, says so, and exits 3', () => {
    const run = l4hurd(['boot', hello, '--max-cycles', '1000', '--json']);
    expect(run.status, run.stderr).toBe(3);
    const stopped = /^laden: stopped at the cycle limit \((\d+) cycles\)$/m.exec(run.stdout);
    expect(stopped, run.stdout).not.toBeNull();
    const counters = JSON.parse(lastLine(run.stdout)) as Record<string, number>;
    expect(counters.exitStatus).toBe(3);
    expect(counters.cycles).toBe(Number(stopped![1]));
    expect(counters.cycles).toBeGreaterThanOrEqual(1000);
    expect(run.stdout).not.toContain('hello: hello, world');
    expect(run.stdout).not.toContain('shutting down');
  });

  it('--trace ipc,fault prints `[cycle] kind thread text` lines of those kinds, and changes no counter', () => {
    const run = l4hurd(['boot', hello, '--trace', 'ipc,fault', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const traces = run.stdout.split('\n').filter((line) => line.startsWith('['));
    expect(traces.length).toBeGreaterThan(3);
    const kinds = new Set<string>();
    let last = 0;
    for (const line of traces) {
      const match = /^\[(\d+)\] (\w+) (\d+)\.(\d+) (.+)$/.exec(line);
      expect(match, line).not.toBeNull();
      const cycle = Number(match![1]);
      expect(cycle).toBeGreaterThanOrEqual(last);
      last = cycle;
      kinds.add(match![2]!);
    }
    expect([...kinds].sort()).toEqual(['fault', 'ipc']);
    // hello's first touch of its startup page faults to wortel, which answers.
    expect(traces).toContainEqual(expect.stringMatching(/^\[\d+\] fault 1000\.2 read at 0x00300000 /));
    expect(traces).toContainEqual(expect.stringMatching(/^\[\d+\] ipc 1000\.2 to 66\.1$/));
    const plain = l4hurd(['boot', hello, '--json']);
    expect(lastLine(run.stdout)).toBe(lastLine(plain.stdout));
  });
});

describe('l4hurd usage errors exit 2 with a message on stderr', () => {
  const cases: ReadonlyArray<{ what: string; args: () => string[]; message: RegExp; usage: boolean }> = [
    { what: 'an unknown command', args: () => ['frob'], message: /^l4hurd: unknown command 'frob'\n/, usage: true },
    { what: 'no command', args: () => [], message: /^usage: l4hurd/, usage: true },
    { what: 'an unknown option', args: () => ['boot', hello, '--frob'], message: /^l4hurd boot: .*'--frob'/, usage: true },
    { what: '--ram with a bad size', args: () => ['boot', hello, '--ram', '12Q'], message: /^l4hurd boot: --ram 12Q: /, usage: true },
    { what: '--ram not in whole pages', args: () => ['boot', hello, '--ram', '1000'], message: /^l4hurd boot: --ram 1000: .*4 KiB pages/, usage: true },
    { what: 'two images', args: () => ['boot', hello, hello], message: /^l4hurd boot: boot takes at most one image\n/, usage: true },
    { what: '--trace with an unknown kind', args: () => ['boot', hello, '--trace', 'ipc,bogus'], message: /^l4hurd boot: unknown trace kind 'bogus'\n/, usage: true },
    { what: '--max-cycles 0', args: () => ['boot', hello, '--max-cycles', '0'], message: /^l4hurd boot: --max-cycles 0: a positive whole number/, usage: true },
    { what: '--max-cycles not a number', args: () => ['boot', hello, '--max-cycles', '1e3'], message: /^l4hurd boot: --max-cycles 1e3: /, usage: true },
    { what: '--max-cycles without a value', args: () => ['boot', hello, '--max-cycles'], message: /^l4hurd boot: .*--max-cycles/, usage: true },
    { what: 'build with a positional argument', args: () => ['build', 'extra'], message: /^l4hurd build: .*'extra'/, usage: true },
    { what: 'an unknown CPU profile', args: () => ['boot', hello, '--profile', 'bogus'], message: /^l4hurd boot: unknown CPU profile 'bogus'.*\n$/, usage: false },
    { what: 'too little RAM', args: () => ['boot', hello, '--ram', '4M'], message: /^l4hurd boot: 4194304 bytes of RAM is too little.*\n$/, usage: false },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const run = l4hurd(c.args());
      expect(run.status, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(c.message);
      expect(run.stderr).not.toMatch(/^\s+at /m);
      if (c.usage) expect(run.stderr).toContain('usage: l4hurd <command> [options]\n');
      else expect(run.stderr.split('\n')).toHaveLength(2);
    });
  }

  it('help prints the usage on stdout and exits 0', () => {
    const run = l4hurd(['help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^usage: l4hurd <command> \[options\]\n/);
    expect(run.stderr).toBe('');
  });
});

describe('l4hurd boot: images that cannot be booted exit 2 with a one-line message', () => {
  it('a missing image file', () => {
    const missing = join(temp, 'no-such.img');
    const run = l4hurd(['boot', missing]);
    expectOneLineError(run, 'boot', new RegExp(`cannot read the image ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`));
    expect(run.stdout).toBe('');
  });

  it('a file that is not an image', () => {
    const run = l4hurd(['boot', join(root, 'package.json')]);
    expectOneLineError(run, 'boot', /not an l4hurd image: bad magic/);
    expect(run.stdout).toBe('');
  });

  it('a truncated image', () => {
    const path = join(temp, 'truncated.img');
    writeFileSync(path, readFileSync(hello).subarray(0, 5000));
    expectOneLineError(l4hurd(['boot', path]), 'boot', /image truncated/);
  });

  it('an image with a corrupted payload', () => {
    const bytes = new Uint8Array(readFileSync(hello));
    bytes[bytes.length - 10] ^= 0x20;
    const path = join(temp, 'corrupt.img');
    writeFileSync(path, bytes);
    expectOneLineError(l4hurd(['boot', path]), 'boot', /module 6 \(hello\): payload checksum mismatch/);
  });
});

describe('l4hurd build', () => {
  it('--config X --out Y writes an image that boots', () => {
    const out = join(temp, 'sub/dir/built.img');
    const run = l4hurd(['build', '--config', helloConfig, '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(`built ${out} (${readFileSync(out).length} bytes)\n`);
    const booted = l4hurd(['boot', out, '--json']);
    expect(booted.status, booted.stderr).toBe(0);
    expect(booted.stdout).toContain('hello: hello, world (from the hello image)\n');
    expect((JSON.parse(lastLine(booted.stdout)) as { exitStatus: number }).exitStatus).toBe(0);
  });

  it('builds the same bytes from any working directory', () => {
    const out = join(temp, 'elsewhere.img');
    const run = l4hurd(['build', '--config', helloConfig, '--out', out], tmpdir());
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(out).equals(readFileSync(hello))).toBe(true);
  });

  const failures: ReadonlyArray<{ what: string; setup: () => string; message: RegExp }> = [
    {
      what: 'a missing entry point',
      setup: () => writeConfig('missing-entry', [{ name: 'ghost', kind: 'program', entry: 'no-such-program.ts' }]),
      message: /module ghost: .*no-such-program\.ts/,
    },
    {
      what: 'a syntax error in a program',
      setup: () => {
        writeFileSync(join(temp, 'broken.ts'), "export default function* main() {\n  const x = ;\n}\n");
        return writeConfig('syntax-error', [{ name: 'broken', kind: 'program', entry: join(temp, 'broken.ts') }]);
      },
      message: /module broken: .*broken\.ts:2:\d+: /,
    },
    {
      what: 'a type error in a program',
      setup: () => {
        writeFileSync(join(temp, 'mistyped.ts'), "export default function* main() {\n  const count: number = 'three';\n  return count;\n}\n");
        return writeConfig('type-error', [{ name: 'mistyped', kind: 'program', entry: join(temp, 'mistyped.ts') }]);
      },
      message: /type error: .*mistyped\.ts\(2,\d+\): error TS2322/,
    },
    {
      what: 'a module name clash',
      setup: () => writeConfig('clash', [{ name: 'wortel', kind: 'program', entry: join(root, 'servers/demo/hello.ts') }]),
      message: /clash\.json: module name 'wortel' is used twice/,
    },
    {
      what: "a program importing a Node built-in ('node:fs')",
      setup: () => {
        writeFileSync(join(temp, 'reads-files.ts'), "import { readFileSync } from 'node:fs';\nexport default function* main() {\n  readFileSync('/etc/passwd');\n}\n");
        return writeConfig('node-builtin', [{ name: 'sneaky', kind: 'program', entry: join(temp, 'reads-files.ts') }]);
      },
      message: /module sneaky: .*reads-files\.ts:1:\d+: Could not resolve "node:fs"/,
    },
    {
      what: 'a config that is not JSON',
      setup: () => {
        writeFileSync(join(temp, 'not-json.json'), '{ "modules": [ ');
        return join(temp, 'not-json.json');
      },
      message: /not-json\.json: not valid JSON/,
    },
    {
      what: 'a missing config',
      setup: () => join(temp, 'no-such-config.json'),
      message: /cannot read the image config .*no-such-config\.json/,
    },
  ];
  for (const f of failures) {
    it(`fails on ${f.what}: exit 2, one line, no image written`, () => {
      const config = f.setup();
      const out = join(temp, 'failed.img');
      rmSync(out, { force: true });
      const run = l4hurd(['build', '--config', config, '--out', out]);
      expectOneLineError(run, 'build', f.message);
      expect(run.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
    });
  }
});
