// `l4hurd debug` as a user runs it (the bundled CLI in child processes): a script of every
// command against its golden output, the same output every time and whichever machine served
// a reverse command, going back landing where going there directly lands, piped input, and the
// usage errors. With L4HURD_UPDATE_GOLDEN=1 (`npm run golden`) the golden file is written.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const cli = join(root, 'bin/l4hurd.mjs');
const update = process.env.L4HURD_UPDATE_GOLDEN === '1';
let temp = '';
let hello = '';

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function l4hurd(args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Run {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000, input: options.input ?? '', env: { ...process.env, ...options.env } });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function script(name: string, lines: readonly string[]): string {
  const path = join(temp, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'l4hurd-debug-'));
  hello = join(temp, 'hello.img');
  const built = l4hurd(['build', '--config', join(root, 'test/boot/images/hello.json'), '--out', hello]);
  expect(built.status, built.stderr).toBe(0);
}, 60_000);

afterAll(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
});

describe('l4hurd debug --script', () => {
  let tour: Run;

  it('runs every command of the tour as its golden output says, and exits 1 for the commands that failed', () => {
    tour = l4hurd(['debug', hello, '--script', join(here, 'scripts/tour.txt')]);
    expect(tour.stderr).toBe('');
    expect(tour.status).toBe(1);
    const golden = join(here, 'golden/tour.out');
    if (update || !existsSync(golden)) writeFileSync(golden, tour.stdout);
    expect(tour.stdout).toBe(readFileSync(golden, 'utf8'));
    expect(tour.stdout).not.toMatch(/internal error|^\s+at /m);
  }, 120_000);

  it('prints the same every time, whichever machine served the reverse commands (no standbys: replays from the boot)', () => {
    const again = l4hurd(['debug', hello, '--script', join(here, 'scripts/tour.txt')], { env: { L4HURD_DEBUG_STANDBYS: '0' } });
    expect(again.stdout).toBe(tour.stdout);
    expect(again.status).toBe(1);
  }, 120_000);

  it('going back lands on the state going there directly does: reverse-step near (a standby) and far (a fresh replay), reverse-continue', () => {
    const state = ['echo ---', 'where', 'counters all', 'threads', 'spaces', 'regs', 'regs 64.1', 'creg', 'tlb', 'x 1:0xbf000000 512', 'tab 1', 'tab 0'];
    const cases: Array<[readonly string[], readonly string[]]> = [
      [['goto 9000', 'reverse-step'], ['goto 8999']],
      [['goto 12000', 'reverse-step 4000'], ['goto 8000']],
      [['goto 12000', 'rs 2', 'rs 3', 'step 4', 'reverse-step'], ['goto 11998']],
      [['break map', 'continue', 'continue', 'continue', 'continue', 'reverse-continue', 'delete'], ['break map', 'continue', 'continue', 'continue', 'delete']],
    ];
    cases.forEach(([back, direct], i) => {
      const a = l4hurd(['debug', hello, '--batch', '--script', script(`back${i}.txt`, [...back, ...state])]);
      const b = l4hurd(['debug', hello, '--batch', '--script', script(`direct${i}.txt`, [...direct, ...state])]);
      expect(a.status, a.stdout + a.stderr).toBe(0);
      expect(b.status, b.stdout + b.stderr).toBe(0);
      const after = (text: string): string => text.slice(text.indexOf('---\n'));
      expect(after(a.stdout).length).toBeGreaterThan(2000);
      expect(after(a.stdout), `case ${i}`).toBe(after(b.stdout));
    });
  }, 240_000);

  it('log keeps a transcript across reverse commands, source runs a file, --trace prints stop points as the machine passes them', () => {
    const log = join(temp, 'transcript.log');
    const sourced = script('sourced.txt', ['# a comment', 'echo from the sourced file', 'step 2']);
    const run = l4hurd(['debug', hello, '--trace', 'ipc,map', '--script', script('logged.txt', [`log ${log}`, 'step 40', 'reverse-step 5', `source ${sourced}`, 'where', 'log off', 'step'])]);
    expect(run.status, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/^#12 \[\d+\] ipc 66\.1 to 64\.1$/m);
    expect(run.stdout).toMatch(/^#16 \[\d+\] map 64\.1 map /m);
    const transcript = readFileSync(log, 'utf8');
    expect(transcript).toMatch(/^\(l4hurd\) step 40\n/m);
    expect(transcript).toMatch(/^\(l4hurd\) reverse-step 5\n#35 /m);
    expect(transcript).toContain('from the sourced file\n');
    expect(transcript).toMatch(/^\(l4hurd\) where\n#37 /m);
    expect(transcript).toMatch(/\(l4hurd\) log off\nlogging to .+transcript\.log stopped\n$/);
    expect(transcript).not.toContain('#38 ');
  }, 60_000);

  it('a script whose commands all work exits 0; --batch prints no prompts', () => {
    const run = l4hurd(['debug', hello, '--batch', '--script', script('fine.txt', ['step 3', 'where'])]);
    expect(run.status).toBe(0);
    expect(run.stdout).not.toContain('(l4hurd)');
    expect(run.stdout).toMatch(/^#3 \[\d+\] /m);
  }, 60_000);
});

describe('l4hurd debug on standard input', () => {
  it('reads piped commands, echoing each after the prompt, and ends at the end of input with status 0', () => {
    const run = l4hurd(['debug', hello], { input: 'step\n\nwhere\nfrob\n' });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^\(l4hurd\) step\n#1 \[\d+\] switch to 64\.1$/m);
    // The empty line repeated the step.
    expect(run.stdout).toMatch(/^\(l4hurd\) \n#2 \[\d+\] /m);
    expect(run.stdout).toContain("unknown command 'frob' (help lists the commands)");
  }, 60_000);
});

describe('l4hurd debug usage', () => {
  const cases: Array<[string, readonly string[], RegExp]> = [
    ['an unknown option', ['--frob'], /unknown option '--frob'/],
    ['--json', ['--json'], /unknown option '--json'/],
    ['a missing script', ['--script', '/nonexistent/script'], /the script \/nonexistent\/script: no such file or directory/],
    ['a bad trace kind', ['--trace', 'colours'], /unknown trace kind 'colours'/],
    ['two images', ['a.img', 'b.img'], /unexpected argument 'b.img'/],
    ['a file that is not an image', ['/etc/hostname', '--script', '/dev/null'], /.+/],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: exit status 2, one line on stderr, no stack trace`, () => {
      const run = l4hurd(['debug', ...args]);
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/^l4hurd debug: .+\n(usage: .+\n)?$/);
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }, 60_000);
  }

  it('standard output closed under it (| head -1): exit status 6, nothing on stderr', () => {
    const result = spawnSync('bash', ['-c', `'${process.execPath}' '${cli}' debug '${hello}' --script '${join(here, 'scripts/tour.txt')}' | head -1 >/dev/null; echo "\${PIPESTATUS[0]}" >&2`], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(result.stderr.trim()).toBe('6');
  }, 120_000);

  it('--help tells the options', () => {
    const run = l4hurd(['debug', '--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^usage: l4hurd debug \[IMAGE\] \[options\]/);
    expect(run.stdout).toContain('--script FILE');
    expect(run.stdout).toContain('--batch');
  });
});
