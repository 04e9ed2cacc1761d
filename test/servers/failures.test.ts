// When a program fails, the system says which one and why, and goes on: a thread's exception
// ends its task (the kernel's console line gives the reason, wortel names the program and shuts
// down with a failure status once the rest are done); a boot that hangs lists what every
// thread waits for.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildImage } from '../../tools/build.ts';
import { bootImage } from '../../tools/loader.ts';
import { bootHurd, linesOf } from '../support/hurd.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const crash = (name: string, what: string): { name: string; entry: string; commandLine: string } => ({ name, entry: 'test/servers/programs/crash.ts', commandLine: `do=${what}` });

describe('failures are reported', () => {
  it('a thread that throws ends its task as crashed; the neighbour runs on; the boot fails', async () => {
    const boot = await bootHurd([crash('thrower', 'throw-thread'), crash('neighbour', 'ok')], { watchMappings: false });
    // The thrower is the task's second created thread (2000 is its default pager).
    const kernel = boot.output.split('\n').find((l) => l.startsWith('kernel: thread '))!;
    expect(kernel).toMatch(/^kernel: thread 2001\.5: program raised RangeError: a thread gives up; told its exception handler 1001\.3$/);
    const wortel = linesOf(boot.output, 'wortel: ');
    expect(wortel).toContain('wortel: thrower crashed: a host exception in its code (exception 0x100)');
    expect(wortel).toContain('wortel: neighbour exited with status 0');
    expect(wortel).toContain('wortel: all programs done, shutting down with status 1');
    expect(boot.result.exitStatus).toBe(1);
    // Its frames went back: the task server destroyed it like any dead task.
    expect(boot.physmem.tasks.some((t) => t.task === 5)).toBe(false);
  });

  it('a program that loops without calling its environment is stopped, named, and the boot ends', async () => {
    const boot = await bootHurd([crash('looper', 'loop')], { watchMappings: false });
    expect(boot.output).toMatch(/kernel: thread 1003\.5: program raised StepLimitError: ran \d+ steps while the clock stood still/);
    expect(linesOf(boot.output, 'wortel: ')).toContain('wortel: looper crashed: a host exception in its code (exception 0x100)');
    expect(boot.result.exitStatus).toBe(1);
    expect(boot.result.run.reason).toBe('shutdown');
  });

  it('a read of kernel memory is a page fault nothing serves: the task crashes with #PF', async () => {
    const boot = await bootHurd([crash('reader', 'kernel-read')], { watchMappings: false });
    // Error code 5: the page is present (the kernel's) and the access a user one.
    expect(boot.output).toContain('kernel: thread 1003.5: read of kernel memory at 0xc0001000 (error code 5); told its exception handler 1001.3\n');
    expect(linesOf(boot.output, 'wortel: ')).toContain('wortel: reader crashed: a page fault nothing serves (#PF)');
    expect(boot.result.exitStatus).toBe(1);
  });

  it('a boot that goes idle lists what each thread waits for', async () => {
    const boot = await bootHurd([crash('blocker', 'block')], { watchMappings: false });
    expect(boot.result.run.reason).toBe('idle');
    expect(boot.result.exitStatus).toBe(4);
    const lines = linesOf(boot.output, 'laden: ');
    const at = lines.findIndex((l) => l.startsWith('laden: the system went idle without shutting down'));
    expect(lines[at]).toMatch(/; its threads:$/);
    // The blocked program's first thread, its default pager, and the servers, each with its wait.
    expect(lines.slice(at + 1)).toContain('laden:   1003.5: receiving from any thread');
    expect(lines.slice(at + 1)).toContain('laden:   1000.2: receiving from any thread');
    expect(lines.slice(at + 1).every((l) => /^laden: {3}\d+\.\d+: /.test(l))).toBe(true);
  });
});

describe('failures in a bare image', () => {
  it('wortel names a program that crashed and shuts down with a failure once the others are done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'l4hurd-bare-'));
    try {
      const config = join(dir, 'bare.json');
      const module = (name: string, kind: string, entry: string, commandLine = ''): object => ({ name, kind, entry: join(root, entry), commandLine });
      writeFileSync(config, JSON.stringify({ modules: [module('kernel', 'kernel', 'kernel/main.ts'), module('sigma0', 'sigma0', 'servers/sigma0.ts'), module('wortel', 'root', 'servers/wortel.ts'), module('looper', 'program', 'test/servers/programs/crash.ts', 'do=loop'), module('hello', 'program', 'servers/demo/hello.ts')] }));
      const result = bootImage(await buildImage(config));
      expect(result.output).toMatch(/kernel: thread 1000\.1: program raised StepLimitError: .*; told its exception handler 66\.1/);
      expect(result.output).toContain('wortel: looper crashed: a host exception in its code (exception 0x100)\n');
      expect(result.output).toContain('hello: hello, world\n');
      expect(result.exitStatus).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
