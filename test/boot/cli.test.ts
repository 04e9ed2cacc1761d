// The l4hurd command as a user runs it: the bundled CLI (node bin/l4hurd.mjs) in a child process,
// its exit statuses, stdout and stderr. Most spawns boot the small hello image, built once.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
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

describe('l4hurd usage errors exit 2 with a message in the CLI\'s own words on stderr', () => {
  const BOOT_SYNOPSIS = 'usage: l4hurd boot [IMAGE] [options] (l4hurd boot --help tells more)\n';
  const cases: ReadonlyArray<{ what: string; args: () => string[]; stderr: string | (() => string) }> = [
    { what: 'an unknown command', args: () => ['frob'], stderr: "l4hurd: unknown command 'frob'\n" },
    { what: 'no command', args: () => [], stderr: 'l4hurd: a command is needed\n' },
    { what: 'an unknown option', args: () => ['boot', hello, '--frob'], stderr: `l4hurd boot: unknown option '--frob'\n${BOOT_SYNOPSIS}` },
    { what: 'an unknown short option', args: () => ['boot', hello, '-x'], stderr: `l4hurd boot: unknown option '-x'\n${BOOT_SYNOPSIS}` },
    { what: '--ram with a bad size', args: () => ['boot', hello, '--ram', '12Q'], stderr: `l4hurd boot: --ram 12Q: give bytes, or a number with K, M or G\n${BOOT_SYNOPSIS}` },
    { what: '--ram not in whole pages', args: () => ['boot', hello, '--ram', '1000'], stderr: `l4hurd boot: --ram 1000: a whole number of 4 KiB pages up to 4G is needed\n${BOOT_SYNOPSIS}` },
    { what: 'two images', args: () => ['boot', hello, hello], stderr: () => `l4hurd boot: unexpected argument '${hello}'\n${BOOT_SYNOPSIS}` },
    { what: '--trace with an unknown kind', args: () => ['boot', hello, '--trace', 'ipc,bogus'], stderr: `l4hurd boot: unknown trace kind 'bogus'\n${BOOT_SYNOPSIS}` },
    { what: '--max-cycles 0', args: () => ['boot', hello, '--max-cycles', '0'], stderr: `l4hurd boot: --max-cycles 0: a positive whole number is needed\n${BOOT_SYNOPSIS}` },
    { what: '--max-cycles not a number', args: () => ['boot', hello, '--max-cycles', '1e3'], stderr: `l4hurd boot: --max-cycles 1e3: a positive whole number is needed\n${BOOT_SYNOPSIS}` },
    { what: '--max-cycles without a value', args: () => ['boot', hello, '--max-cycles'], stderr: `l4hurd boot: option --max-cycles needs a value (--max-cycles N)\n${BOOT_SYNOPSIS}` },
    { what: '--max-cycles followed by another option', args: () => ['boot', hello, '--max-cycles', '--json'], stderr: `l4hurd boot: option --max-cycles needs a value (--max-cycles N)\n${BOOT_SYNOPSIS}` },
    { what: 'a value for a flag', args: () => ['boot', hello, '--json=yes'], stderr: `l4hurd boot: option --json takes no value\n${BOOT_SYNOPSIS}` },
    { what: 'build with a positional argument', args: () => ['build', 'extra'], stderr: "l4hurd build: unexpected argument 'extra'\nusage: l4hurd build [--config FILE] [--out FILE] (l4hurd build --help tells more)\n" },
    { what: 'an unknown CPU profile', args: () => ['boot', hello, '--profile', 'bogus'], stderr: `l4hurd boot: unknown CPU profile 'bogus': known profiles are i486, p3\n${BOOT_SYNOPSIS}` },
    { what: 'too little RAM', args: () => ['boot', hello, '--ram', '4M'], stderr: 'l4hurd boot: 4194304 bytes of RAM is too little: at least 8388608 are needed\n' },
    { what: 'help about an unknown command', args: () => ['help', 'frob'], stderr: "l4hurd help: no command 'frob'\nusage: l4hurd help [COMMAND] (l4hurd help --help tells more)\n" },
    { what: 'run without a program', args: () => ['run', '--json'], stderr: 'l4hurd run: a program to run is needed (l4hurd run FILE.ts [ARGS])\nusage: l4hurd run [options] FILE.ts [ARGS...] (l4hurd run --help tells more)\n' },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const run = l4hurd(c.args());
      expect(run.status, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      const stderr = typeof c.stderr === 'function' ? c.stderr() : c.stderr;
      // The command-less errors go on with the overview; the others are exactly this.
      if (stderr.startsWith('l4hurd: ')) expect(run.stderr.startsWith(`${stderr}usage: l4hurd <command> [options]\n`), run.stderr).toBe(true);
      else expect(run.stderr).toBe(stderr);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    });
  }

  it('help, --help and -h print the overview on stdout and exit 0', () => {
    for (const args of [['help'], ['--help'], ['-h']]) {
      const run = l4hurd(args);
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^usage: l4hurd <command> \[options\]\n/);
      for (const command of ['boot', 'run', 'build', 'demo', 'bench', 'help']) expect(run.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
      expect(run.stdout).toMatch(/^ {2}5 +the machine ran out of host memory/m);
      expect(run.stderr).toBe('');
    }
  });

  it('COMMAND --help, COMMAND -h and help COMMAND print that command\'s help and exit 0, whatever else is on the line', () => {
    for (const command of ['boot', 'run', 'build', 'demo', 'bench', 'help']) {
      const texts = [[command, '--help'], [command, '-h'], ['help', command], [command, '--frob', '--help']].map((args) => {
        const run = l4hurd(args);
        expect(run.status, `${args.join(' ')}: ${run.stderr}`).toBe(0);
        expect(run.stderr).toBe('');
        return run.stdout;
      });
      expect(texts[0]).toMatch(new RegExp(`^usage: l4hurd ${command} `));
      expect(texts[0]).toContain('\noptions:\n');
      expect(texts[0]).toContain('  -h, --help');
      for (const text of texts) expect(text).toBe(texts[0]);
    }
    const boot = l4hurd(['boot', '--help']).stdout;
    for (const option of ['--ram SIZE', '--profile NAME', '--max-cycles N', '--json', '--trace KINDS', '--host-memory SIZE']) expect(boot).toContain(`  ${option} `);
  });

  it('--version, -V and version print the version from package.json', () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['-V'], ['version']]) {
      const run = l4hurd(args);
      expect(run.status).toBe(0);
      expect(run.stdout).toBe(`l4hurd ${version}\n`);
    }
  });
});

describe('l4hurd boot: images that cannot be booted exit 2 with a one-line message', () => {
  it('an image that cannot be read: the message says why', () => {
    const missing = join(temp, 'no-such.img');
    const locked = join(temp, 'locked.img');
    writeFileSync(locked, readFileSync(hello));
    chmodSync(locked, 0);
    const readable = (() => {
      try {
        readFileSync(locked);
        return true; // root reads it anyway
      } catch {
        return false;
      }
    })();
    const cases: Array<[string, string]> = [
      [missing, 'no such file or directory'],
      [temp, 'it is a directory'],
      ['/dev/zero', 'not a regular file (a character device)'],
      [join(hello, 'inside'), 'a component of the path is not a directory'],
    ];
    if (!readable) cases.push([locked, 'permission denied']);
    for (const [path, why] of cases) {
      const run = l4hurd(['boot', path]);
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toBe(`l4hurd boot: cannot read the image ${path}: ${why}\n`);
      expect(run.stdout).toBe('');
    }
  });

  it('an image config is built first, in memory, and boots as its image does', () => {
    const run = l4hurd(['boot', helloConfig, '--json']);
    expect(run.status, run.stderr).toBe(0);
    const built = l4hurd(['boot', hello, '--json']);
    expect(run.stdout).toBe(built.stdout);
  });

  it('a file that is not an image', () => {
    const run = l4hurd(['boot', join(root, 'README.md')]);
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

describe('l4hurd run FILE.ts [ARGS]', () => {
  /** The modules `run` takes from the default image: kernel, sigma0, root, and the system servers it has. */
  const systemModules = (): string[] => {
    const { modules } = JSON.parse(readFileSync(join(root, 'images/default.json'), 'utf8')) as { modules: Array<{ name: string; kind: string }> };
    return modules.filter((m) => ['kernel', 'sigma0', 'root'].includes(m.kind) || (m.kind === 'program' && ['physmem', 'task', 'policy'].includes(m.name))).map((m) => m.name);
  };
  // The loader's placement lines: the kind padded to 7, then the name.
  const loaded = (stdout: string): string[] => [...stdout.matchAll(/^laden: (?:kernel {2}|sigma0 {2}|root {4}|program |data {4})(\S+) +0x/gm)].map((m) => m[1]!);

  it('boots the default system modules and the program, whose command line is ARGS', () => {
    const run = l4hurd(['run', 'servers/demo/hello.ts', 'one', 'two=2']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    expect(loaded(run.stdout)).toEqual([...systemModules(), 'hello']);
    expect(run.stdout).toContain('hello: hello, world (one two=2)\n');
    expect(run.stdout).toMatch(/^ {2}exitStatus {7}0\n$/m);
  });

  it('takes options before FILE.ts and gives everything after it to the program', () => {
    const run = l4hurd(['run', '--json', '--profile', 'i486', 'servers/demo/hello.ts', '--json', '--ram', '1']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('CPU i486\n');
    expect(run.stdout).toContain('hello: hello, world (--json --ram 1)\n');
    expect((JSON.parse(lastLine(run.stdout)) as { exitStatus: number }).exitStatus).toBe(0);
  });

  it("exits with the program's status, and names a program after its file, clear of the system's names", () => {
    const program = join(temp, 'wortel.ts');
    writeFileSync(program, `import { program } from '${join(root, 'servers/runtime.ts')}';\nexport default program(function* (_env, args) {\n  return Number(args);\n});\n`);
    const run = l4hurd(['run', program, '7']);
    expect(run.stderr).toBe('');
    expect(loaded(run.stdout)).toEqual([...systemModules(), 'wortel-2']);
    expect(run.stdout).toContain('wortel: wortel-2 exited with status 7\n');
    expect(run.status).toBe(7);
  });
});

describe('the CLI bundle', () => {
  it('is rebuilt when a source it was made from is newer than it, before the command runs', () => {
    const bundle = join(root, 'dist/l4hurd.mjs');
    const inputs = JSON.parse(readFileSync(join(root, 'dist/l4hurd.inputs.json'), 'utf8')) as string[];
    expect(inputs).toContain('tools/cli.ts');
    expect(inputs).toContain('tools/machine-worker.ts');
    expect(inputs).toContain('emulator/mmu.ts');
    // Make every source newer than the bundle by dating the bundle back.
    const past = new Date('2001-01-01T00:00:00Z');
    utimesSync(bundle, past, past);
    const run = l4hurd(['--version']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^l4hurd \d+\.\d+\.\d+\n$/);
    expect(statSync(bundle).mtimeMs).toBeGreaterThan(past.getTime() + 1000);
  });
});

