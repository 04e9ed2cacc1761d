// `l4hurd debug` on a real terminal: a tmux session (a pseudo-terminal) with keys sent and the
// screen read back: the prompt, tab completion of commands, the history (kept in a file across
// sessions), the empty line repeating a step, and Ctrl-C pausing a machine that is running.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const socket = `l4hurd-debug-test-${process.pid}`;
let temp = '';
let image = '';

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
}

function screen(): string {
  return tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', 'debug');
}

/** Waits until the screen matches (tmux shows what the terminal shows, after the program wrote it). */
async function until(pattern: RegExp, what: string, timeoutMs = 30_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = screen();
    if (pattern.test(text)) return text;
    if (Date.now() > end) throw new Error(`waited for ${what}; the screen:\n${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function keys(...k: string[]): void {
  tmux('send-keys', '-t', 'debug', ...k);
}

beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'l4hurd-tty-'));
  image = join(temp, 'spin.img');
  const built = spawnSync(process.execPath, [join(root, 'bin/l4hurd.mjs'), 'build', '--config', join(root, 'test/debug/images/spin.json'), '--out', image], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
}, 60_000);

afterAll(() => {
  spawnSync('tmux', ['-L', socket, 'kill-server']);
  if (temp) rmSync(temp, { recursive: true, force: true });
});

function start(): void {
  const command = `cd ${root} && L4HURD_HISTORY=${join(temp, 'history')} ${process.execPath} bin/l4hurd.mjs debug ${image} --max-cycles 100000000000000; echo "exited $?"; sleep 30`;
  tmux('new-session', '-d', '-s', 'debug', '-x', '160', '-y', '50', command);
}

describe('the console on a terminal', () => {
  it('prompts, completes commands, repeats a step on an empty line, pauses a running machine on Ctrl-C, keeps history', async () => {
    start();
    await until(/^\(l4hurd\) $/m, 'the first prompt');
    keys('step', 'Enter');
    await until(/^#1 \[\d+\] switch to 64\.1$/m, 'the first step');
    keys('Enter');
    await until(/^#2 \[\d+\] /m, 'the empty line repeating the step');
    keys('thr', 'Tab');
    await until(/^\(l4hurd\) threads$/m, 'thr completed to threads');
    keys('Enter');
    await until(/^thread +space +program/m, 'the thread table');
    keys('continue', 'Enter');
    // The machine runs for ever (spin); Ctrl-C pauses it at the next stop point.
    await new Promise((r) => setTimeout(r, 1500));
    expect(screen()).not.toMatch(/^interrupted$/m);
    keys('C-c');
    const paused = await until(/^interrupted\n#\d+ \[\d+\] .+\n\(l4hurd\) $/m, 'the pause after Ctrl-C');
    expect(paused).not.toMatch(/^\s+at /m);
    keys('Up');
    await until(/^\(l4hurd\) continue$/m, 'the last command brought back by Up');
    keys('C-u', 'quit', 'Enter');
    await until(/^exited 0$/m, 'the console ending with status 0');
    spawnSync('tmux', ['-L', socket, 'kill-session', '-t', 'debug']);
    expect(readFileSync(join(temp, 'history'), 'utf8').split('\n')).toEqual(['step', 'threads', 'continue', 'quit', '']);
    // A new session finds the history: Up brings back the last command of the one before.
    start();
    await until(/^\(l4hurd\) $/m, 'the prompt of the second session');
    keys('Up');
    await until(/^\(l4hurd\) quit$/m, 'history from the file');
    keys('C-u', 'quit', 'Enter');
    await until(/^exited 0$/m, 'the second console ending');
  }, 90_000);
});
